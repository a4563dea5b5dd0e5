"""Against the running shop: no header one client sends can open a circuit, or fail a route, for the others."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from shopkit.testing.problems import assert_problem
from tests.e2e.conftest import Shop

CIRCUIT_FAIL_MAX = 5  # the gateway's default: five failures in a row open a circuit
# Raw bytes as an attacker sends them; each with what that attacker (alone) gets.
HOSTILE: list[tuple[str, dict[str, bytes], int]] = [
    ("/api/products", {"X-Request-ID": "réquête-ünïcode".encode()}, 200),
    ("/api/products", {"X-Request-ID": b"\xff\xfe"}, 200),
    ("/api/categories", {"Authorization": "Bearer jéton".encode()}, 400),
    ("/api/products", {"Idempotency-Key": "clé".encode()}, 200),
    ("/api/products", {"traceparent": "00-é-é-01".encode(), "tracestate": "k=é".encode()}, 200),
    ("/api/products", {"X-Forwarded-For": "é, 1.2.3.4".encode()}, 200),
]


def _circuit_opened(shop: Shop) -> dict[str, float]:
    """Calls the gateway refused because a circuit was open, per downstream (its internal /metrics)."""
    text = httpx.get(f"{shop.base_url}/metrics", timeout=10.0).text
    return {
        sample.labels["upstream"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "shop_gateway_upstream_requests"
        for sample in family.samples
        if sample.name.endswith("_total") and sample.labels.get("outcome") == "circuit_open"
    }


def test_hostile_headers_never_open_the_circuit_for_other_customers(shop: Shop) -> None:
    # given
    before = _circuit_opened(shop)

    # when: each hostile header, more times in a row than a circuit tolerates failures, then a customer
    with shop.client() as attacker:
        hostile = [
            (path, [attacker.get(path, headers=headers).status_code for _ in range(CIRCUIT_FAIL_MAX + 1)])
            for path, headers, _ in HOSTILE
        ]
        refused = attacker.get("/api/categories", headers={"Authorization": "Bearer jéton".encode()})
    with shop.client() as customer:
        products = customer.get("/api/products", params={"page_size": 1})
        categories = customer.get("/api/categories")

    # then
    assert hostile == [(path, [expected] * (CIRCUIT_FAIL_MAX + 1)) for path, _, expected in HOSTILE]
    assert assert_problem(refused, 400)["type"] == "https://shop.example/problems/invalid-header"
    assert (products.status_code, products.json()["count"] > 0) == (200, True)
    assert (categories.status_code, categories.json()["count"] > 0) == (200, True)
    assert _circuit_opened(shop) == before
