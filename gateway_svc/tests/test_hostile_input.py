"""One client's headers or body never make a route fail for the others: the circuit counts only the upstream."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from gateway_svc import upstream as upstream_module
from gateway_svc.tests.conftest import Gateway
from gateway_svc.tests.stubs import StubUpstream
from shopkit.testing.problems import assert_problem

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
PRODUCTS = {"items": [], "count": 0, "page": 1, "page_size": 20}
TOKENS = {"access": "a", "refresh": "r", "token_type": "Bearer", "expires_in": 300}
# Raw bytes, as an attacker puts them on the wire (Django reads header bytes as Latin-1).
HOSTILE_HEADERS: dict[str, tuple[dict[str, bytes], int]] = {
    "non-ascii request id": ({"X-Request-ID": "réquête".encode()}, 200),
    "latin-1 request id": ({"X-Request-ID": b"\xe9"}, 200),
    "overlong request id": ({"X-Request-ID": b"r" * 500}, 200),
    "request id with spaces": ({"X-Request-ID": b"a b, c"}, 200),
    "request id with a control character": ({"X-Request-ID": b"a\x01b"}, 200),
    "non-ascii authorization": ({"Authorization": "Bearer é".encode()}, 400),
    "authorization with a control character": ({"Authorization": b"Bearer a\x7fb"}, 400),
    "overlong authorization": ({"Authorization": b"Bearer " + b"a" * 9000}, 400),
    "non-ascii idempotency key": ({"Idempotency-Key": "clé".encode()}, 200),
    "non-ascii traceparent": ({"traceparent": "00-é-é-01".encode()}, 200),
    "non-ascii tracestate": ({"tracestate": "a=é".encode()}, 200),
    "non-ascii baggage": ({"baggage": "k=é".encode()}, 200),
    "non-ascii forwarded for": ({"X-Forwarded-For": "é".encode()}, 200),
}


def _circuit(name: upstream_module.Upstream) -> tuple[str, int]:
    circuit = upstream_module.breaker(name)
    return circuit.current_state, circuit.fail_counter


@pytest.mark.parametrize("case", list(HOSTILE_HEADERS))
def test_hostile_headers_never_open_the_circuit_for_other_customers(
    upstream: StubUpstream, settings: Any, case: str
) -> None:
    # given
    settings.CIRCUIT_FAIL_MAX = 2
    upstream.reply("GET", "/api/products", body=PRODUCTS)
    headers, expected = HOSTILE_HEADERS[case]
    attacker, customer = Gateway(client_address=("203.0.113.66", 4000)), Gateway()

    # when: more hostile requests than the circuit tolerates failures, then an ordinary customer
    hostile = [attacker.get("/api/products", headers=headers) for _ in range(4)]
    ordinary = customer.get("/api/products")

    # then
    assert [r.status_code for r in hostile] == [expected] * 4
    if expected == 400:
        assert assert_problem(hostile[0], 400)["type"] == "https://shop.example/problems/invalid-header"
    assert (ordinary.status_code, ordinary.json()) == (200, PRODUCTS)
    assert _circuit(upstream_module.Upstream.PRODUCTS) == ("closed", 0)
    assert len(upstream.calls("GET", "/api/products")) == 1 + (4 if expected == 200 else 0)


def test_a_request_id_that_cannot_be_forwarded_is_replaced_by_a_fresh_one(upstream: StubUpstream) -> None:
    # given
    upstream.reply("GET", "/api/products", body=PRODUCTS)

    # when
    response = Gateway().get("/api/products", headers={"X-Request-ID": "réquête".encode()})

    # then
    assert response.status_code == 200
    [sent] = upstream.calls("GET", "/api/products")
    assert UUID.match(sent.headers["x-request-id"])


def test_a_sane_request_id_is_forwarded_as_it_came(upstream: StubUpstream) -> None:
    # given
    upstream.reply("GET", "/api/products", body=PRODUCTS)

    # when
    response = Gateway().get("/api/products", headers={"X-Request-ID": "req-7f3a:retry=2"})

    # then
    assert response.status_code == 200
    [sent] = upstream.calls("GET", "/api/products")
    assert sent.headers["x-request-id"] == "req-7f3a:retry=2"


def test_idempotency_key_is_sent_only_to_checkout(upstream: StubUpstream) -> None:
    # given
    upstream.reply("GET", "/api/products", body=PRODUCTS)

    # when
    response = Gateway().get("/api/products", headers={"Idempotency-Key": "k-1"})

    # then
    assert response.status_code == 200
    [sent] = upstream.calls("GET", "/api/products")
    assert "idempotency-key" not in sent.headers


def test_a_non_ascii_token_on_a_signed_in_route_is_401(upstream: StubUpstream) -> None:
    # when
    response = Gateway().get("/api/cart", headers={"Authorization": "Bearer é".encode()})

    # then
    assert assert_problem(response, 401)["type"] == "https://shop.example/problems/invalid-token"
    assert upstream.received == []


def test_hostile_bodies_never_open_the_circuit_for_other_customers(upstream: StubUpstream, settings: Any) -> None:
    # given: a lone surrogate, which cannot be encoded to send on
    settings.CIRCUIT_FAIL_MAX = 2
    upstream.reply("POST", "/api/auth/login", body=TOKENS)
    attacker, customer = Gateway(client_address=("203.0.113.66", 4000)), Gateway()
    body = b'{"email": "eve@example.com", "password": "\\ud800-hunter2"}'

    # when
    hostile = [
        attacker.post("/api/auth/login", content=body, headers={"Content-Type": "application/json"}) for _ in range(4)
    ]
    ordinary = customer.post("/api/auth/login", json={"email": "ada@example.com", "password": "hunter2"})

    # then
    assert [r.status_code for r in hostile] == [400] * 4
    assert (ordinary.status_code, ordinary.json()) == (200, TOKENS)
    assert _circuit(upstream_module.Upstream.USERS) == ("closed", 0)
    assert len(upstream.calls("POST", "/api/auth/login")) == 1


def test_an_answer_that_cannot_be_decoded_is_the_upstreams_failure(upstream: StubUpstream, settings: Any) -> None:
    # given: products claims gzip and sends something else
    settings.CIRCUIT_FAIL_MAX = 2
    upstream.reply("GET", "/api/products", body=b"not gzip", headers={"Content-Encoding": "gzip"})

    # when
    answers = [Gateway().get("/api/products") for _ in range(3)]

    # then
    assert [assert_problem(a, 503)["type"] for a in answers] == [
        "https://shop.example/problems/upstream-unavailable",
        "https://shop.example/problems/upstream-unavailable",
        "https://shop.example/problems/circuit-open",
    ]
    assert upstream_module.breaker(upstream_module.Upstream.PRODUCTS).current_state == "open"


def test_only_what_the_upstream_did_counts_toward_its_circuit() -> None:
    # given
    request = httpx.Request("GET", "http://products.invalid/api/products")
    upstream_failures = [
        httpx.ConnectError("refused", request=request),
        httpx.ReadTimeout("slow", request=request),
        httpx.RemoteProtocolError("closed without an answer", request=request),
        httpx.DecodingError("bad gzip", request=request),
    ]
    not_the_upstreams = [
        httpx.LocalProtocolError("illegal header value"),
        UnicodeEncodeError("ascii", "é", 0, 1, "ordinal not in range"),
        ValueError("the gateway's own bug"),
    ]
    circuit = upstream_module.breaker(upstream_module.Upstream.PRODUCTS)

    # when
    counted = [circuit.is_system_error(exc) for exc in upstream_failures]
    ignored = [circuit.is_system_error(exc) for exc in not_the_upstreams]

    # then
    assert counted == [True, True, True, True]
    assert ignored == [False, False, False]
