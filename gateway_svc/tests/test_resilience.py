"""A failing downstream service: fast 503/504 problems, never a hang; a circuit per service; metrics."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
from prometheus_client import REGISTRY

from gateway_svc.tests.conftest import Gateway
from gateway_svc.tests.stubs import StubUpstream, free_port_url, problem, product_body
from shopkit.testing.problems import assert_problem

DEADLINE_SECONDS = 5.0


def _outcomes(upstream: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "shop_gateway_upstream_requests_total", {"upstream": upstream, "outcome": outcome}
    )
    return value or 0.0


def _timed(call: Any) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def test_downstream_down_is_a_fast_503(gateway: Gateway, settings: Any) -> None:
    # given
    settings.PRODUCTS_URL = free_port_url()
    before = _outcomes("products", "unavailable")

    # when
    response, seconds = _timed(lambda: gateway.get("/api/categories"))

    # then
    body = assert_problem(response, 503)
    assert body["type"] == "https://shop.example/problems/upstream-unavailable"
    assert response.headers["retry-after"] == "1"
    assert seconds < DEADLINE_SECONDS
    assert _outcomes("products", "unavailable") == before + 1


def test_slow_downstream_is_a_504_at_the_deadline(gateway: Gateway, upstream: StubUpstream, settings: Any) -> None:
    # given
    settings.UPSTREAM_TIMEOUT_SECONDS = 0.3
    upstream.reply("GET", "/api/categories", body={"items": [], "count": 0}, delay=DEADLINE_SECONDS)
    before = _outcomes("products", "timeout")

    # when
    response, seconds = _timed(lambda: gateway.get("/api/categories"))

    # then
    assert assert_problem(response, 504)["type"] == "https://shop.example/problems/upstream-timeout"
    assert seconds < DEADLINE_SECONDS
    assert _outcomes("products", "timeout") == before + 1
    # a timed-out GET is not retried: the work may still be running
    assert len(upstream.calls("GET", "/api/categories")) == 1


def test_non_problem_5xx_is_a_503(gateway: Gateway, upstream: StubUpstream) -> None:
    # given
    upstream.reply("GET", "/api/categories", status=502, body=b"<html>Bad Gateway</html>", content_type="text/html")

    # when
    response = gateway.get("/api/categories")

    # then
    assert assert_problem(response, 503)["detail"] == "The products service is unavailable; try again shortly."


def test_connection_dropped_without_an_answer_is_a_503(
    gateway: Gateway, upstream: StubUpstream, customer_auth: dict[str, str]
) -> None:
    # given
    upstream.reply("POST", "/api/orders", drop=True)

    # when
    response = gateway.post("/api/orders", headers={**customer_auth, "Idempotency-Key": "k-1"})

    # then
    assert_problem(response, 503)
    # a checkout is never re-sent by the gateway
    assert len(upstream.calls("POST", "/api/orders")) == 1


def test_downstream_5xx_problem_passes_through(
    gateway: Gateway, upstream: StubUpstream, customer_auth: dict[str, str]
) -> None:
    # given: orders is alive but its database is not
    upstream.reply(
        "GET",
        "/api/orders",
        status=503,
        body=problem(503, "Database down."),
        content_type="application/problem+json",
        headers={"Retry-After": "5"},
    )

    # when
    response = gateway.get("/api/orders", headers=customer_auth)

    # then
    assert assert_problem(response, 503)["detail"] == "Database down."
    assert response.headers["retry-after"] == "5"


def test_circuit_opens_after_consecutive_failures_and_then_fails_fast(
    gateway: Gateway, upstream: StubUpstream, settings: Any
) -> None:
    # given: two broken answers in a row
    settings.CIRCUIT_FAIL_MAX = 2
    settings.CIRCUIT_RESET_SECONDS = 30.0
    upstream.reply("GET", "/api/categories", status=500, body=b"oops", content_type="text/plain")
    first, second = gateway.get("/api/categories"), gateway.get("/api/categories")
    before = _outcomes("products", "circuit_open")

    # when
    response = gateway.get("/api/categories")
    product = gateway.get(f"/api/products/{uuid.uuid4()}")

    # then
    assert (first.status_code, second.status_code) == (503, 503)
    assert assert_problem(response, 503)["type"] == "https://shop.example/problems/circuit-open"
    assert response.headers["retry-after"] == "30"
    assert_problem(product, 503)
    assert len(upstream.received) == 2
    assert _outcomes("products", "circuit_open") == before + 2


def test_circuit_is_per_service(gateway: Gateway, upstream: StubUpstream, settings: Any) -> None:
    # given: the products circuit is open
    settings.CIRCUIT_FAIL_MAX = 1
    settings.PRODUCTS_URL = free_port_url()
    gateway.get("/api/categories")
    upstream.reply(
        "POST", "/api/auth/refresh", body={"access": "a", "refresh": "r", "token_type": "Bearer", "expires_in": 300}
    )

    # when
    response = gateway.post("/api/auth/refresh", json={"refresh": "r"})

    # then
    assert response.status_code == 200


def test_circuit_half_opens_after_the_reset_timeout_and_closes_on_success(
    gateway: Gateway, upstream: StubUpstream, settings: Any
) -> None:
    # given: an open circuit
    settings.CIRCUIT_FAIL_MAX = 1
    settings.CIRCUIT_RESET_SECONDS = 0.2
    upstream.reply("GET", "/api/categories", status=502, body=b"down", content_type="text/plain")
    assert gateway.get("/api/categories").status_code == 503
    upstream.reply("GET", "/api/categories", body={"items": [], "count": 0})

    # when: the caller retries until the trial call goes through
    deadline = time.monotonic() + DEADLINE_SECONDS
    response = gateway.get("/api/categories")
    while response.status_code != 200 and time.monotonic() < deadline:
        assert response.json()["type"] == "https://shop.example/problems/circuit-open"
        response = gateway.get("/api/categories")
    after_recovery = gateway.get("/api/categories")

    # then: one failed call, one trial, then closed again
    assert response.status_code == 200
    assert after_recovery.status_code == 200
    assert len(upstream.calls("GET", "/api/categories")) == 3


def test_failed_trial_call_opens_the_circuit_again(gateway: Gateway, upstream: StubUpstream, settings: Any) -> None:
    # given
    settings.CIRCUIT_FAIL_MAX = 1
    settings.CIRCUIT_RESET_SECONDS = 0.2
    upstream.reply("GET", "/api/categories", status=502, body=b"down", content_type="text/plain")
    gateway.get("/api/categories")
    deadline = time.monotonic() + DEADLINE_SECONDS
    while len(upstream.received) < 2 and time.monotonic() < deadline:
        gateway.get("/api/categories")

    # when: right after the failed trial
    response = gateway.get("/api/categories")

    # then
    assert len(upstream.received) == 2
    assert assert_problem(response, 503)["type"] == "https://shop.example/problems/circuit-open"


def test_client_errors_do_not_open_the_circuit(gateway: Gateway, upstream: StubUpstream, settings: Any) -> None:
    # given
    settings.CIRCUIT_FAIL_MAX = 1
    product_id = str(uuid.uuid4())
    upstream.reply(
        "GET", f"/api/products/{product_id}", status=404, body=problem(404), content_type="application/problem+json"
    )
    upstream.reply("GET", "/api/categories", body={"items": [], "count": 0})

    # when
    missing = [gateway.get(f"/api/products/{product_id}") for _ in range(3)]
    categories = gateway.get("/api/categories")

    # then
    assert [r.status_code for r in missing] == [404, 404, 404]
    assert categories.status_code == 200


def test_successful_calls_are_counted_and_timed(gateway: Gateway, upstream: StubUpstream) -> None:
    # given
    product_id = str(uuid.uuid4())
    upstream.reply("GET", f"/api/products/{product_id}", body=product_body(product_id))
    ok_before = _outcomes("products", "ok")
    timed_before = (
        REGISTRY.get_sample_value("shop_gateway_upstream_duration_seconds_count", {"upstream": "products"}) or 0
    )

    # when
    response = gateway.get(f"/api/products/{product_id}")

    # then
    assert response.status_code == 200
    assert _outcomes("products", "ok") == ok_before + 1
    assert (
        REGISTRY.get_sample_value("shop_gateway_upstream_duration_seconds_count", {"upstream": "products"})
        == timed_before + 1
    )


def test_requests_are_served_concurrently_not_one_at_a_time(gateway: Gateway, upstream: StubUpstream) -> None:
    """Regression: Django's synchronous OpenTelemetry middleware made the async gateway serve one
    request at a time (its thread-sensitive worker was blocked for each request's whole duration)."""
    import asyncio
    import threading

    from asgiref.sync import async_to_sync

    from gateway_svc import upstream as upstream_module
    from gateway_svc.asgi import application

    # given: products answers only once it holds four requests at the same time (or after 10 s)
    product = str(uuid.uuid4())
    upstream.reply("GET", f"/api/products/{product}", body=product_body(product), delay=10.0)
    done: list[int] = []
    finished_before_the_fourth_arrived: list[int] = []

    def release_when_four_are_waiting() -> None:
        deadline = time.monotonic() + 20
        while len(upstream.calls("GET", f"/api/products/{product}")) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        finished_before_the_fourth_arrived.append(len(done))
        upstream.release.set()

    async def four_at_once() -> list[int]:
        transport = httpx.ASGITransport(app=application, client=("203.0.113.9", 40000))
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:

                async def one() -> int:
                    response = await client.get(f"/api/products/{product}")
                    done.append(response.status_code)
                    return response.status_code

                return list(await asyncio.gather(*(one() for _ in range(4))))
        finally:
            await upstream_module.close_client()

    watcher = threading.Thread(target=release_when_four_are_waiting, daemon=True)
    watcher.start()

    # when
    statuses = async_to_sync(four_at_once)()
    watcher.join(timeout=30)

    # then: all four reached products before any of them was answered
    assert finished_before_the_fourth_arrived == [0]
    assert statuses == [200, 200, 200, 200]
