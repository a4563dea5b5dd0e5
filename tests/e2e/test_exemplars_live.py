"""One checkout through the running shop: its trace id is the exemplar of every latency histogram it passed.

The processes of `make run` (gateway: one uvicorn process; orders, its own by-view latency and its gRPC client,
under gunicorn with PROMETHEUS_MULTIPROC_DIR; products-grpc and the consumers with their own metrics servers),
scraped over OpenMetrics by Debian's Prometheus with `--enable-feature=exemplar-storage`; each exemplar is
looked up through `/api/v1/query_exemplars`.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

from shopkit.testing.exemplars import running_prometheus, stored_exemplars, targets_up
from tests.e2e.conftest import PORTS, Customer, Shop

# The processes' metrics addresses, on the suite's port block (tests/e2e/conftest.py).
GATEWAY, ORDERS = f"127.0.0.1:{PORTS.gateway}", f"127.0.0.1:{PORTS.orders}"
CARTS_CONSUMER = f"127.0.0.1:{PORTS.carts_consumer_metrics}"
PRODUCTS_CONSUMER = f"127.0.0.1:{PORTS.products_consumer_metrics}"
# histogram (with the labels that pick the checkout's series) -> the process that observes it
SELECTORS = {
    f'django_http_requests_latency_seconds_by_view_method_bucket{{instance="{GATEWAY}", view="api:checkout"}}': (
        "gateway"
    ),
    'shop_gateway_upstream_duration_seconds_bucket{upstream="orders"}': "gateway",
    # a domain service's own HTTP latency (shopkit.base_settings' middleware), under gunicorn multi-process
    f'django_http_requests_latency_seconds_by_view_method_bucket{{instance="{ORDERS}", method="POST"}}': "orders",
    f'shop_grpc_client_handling_seconds_bucket{{instance="{ORDERS}", grpc_method="ReserveStock"}}': "orders",
    'shop_grpc_server_handling_seconds_bucket{grpc_method="ReserveStock"}': "products-grpc",
    f'shop_event_handling_seconds_bucket{{instance="{CARTS_CONSUMER}", outcome="processed"}}': "carts-consumer",
    f'shop_event_handling_seconds_bucket{{instance="{PRODUCTS_CONSUMER}", outcome="processed"}}': "products-consumer",
}
TARGETS = [GATEWAY, ORDERS, f"127.0.0.1:{PORTS.products_grpc_metrics}", CARTS_CONSUMER, PRODUCTS_CONSUMER]


def _trace_ids(prometheus: str, selector: str) -> set[str]:
    return {e["labels"]["trace_id"] for s in stored_exemplars(prometheus, selector) for e in s["exemplars"]}


def test_a_checkouts_trace_is_the_exemplar_of_every_latency_it_passed(
    shop: Shop, api: httpx.Client, staff: Customer, new_customer: Callable[[], Customer], tmp_path: Path
) -> None:
    # given: a product, a customer with it in the cart, Prometheus scraping the processes a checkout passes
    category = api.get("/api/categories").json()["items"][0]["slug"]
    sku = f"EXM-{uuid.uuid4().hex[:8].upper()}"
    product = api.post(
        "/api/products",
        json={"sku": sku, "name": f"Exemplary Vase {sku}", "price": "12.00", "stock": 10, "category": category},
        headers=staff.auth,
    ).json()
    customer = new_customer()
    added = api.post("/api/cart/items", json={"product_id": product["id"], "quantity": 1}, headers=customer.auth)
    assert added.status_code in (200, 201), added.text
    with running_prometheus(TARGETS, tmp_path) as prometheus:
        # when: the checkout
        checkout = api.post("/api/orders", headers={**customer.auth, "Idempotency-Key": str(uuid.uuid4())})
        assert checkout.status_code == 201, checkout.text
        trace_id = checkout.headers["X-Trace-Id"]

        # then: every histogram's stored exemplars name its trace
        started = time.monotonic()
        pending = dict(SELECTORS)
        while pending:
            pending = {s: p for s, p in pending.items() if trace_id not in _trace_ids(prometheus, s)}
            assert time.monotonic() < started + 60, (pending, targets_up(prometheus))
            if pending:
                time.sleep(0.2)
        health = targets_up(prometheus)
    assert set(health.values()) == {"up"}, health
    sys.stdout.write(
        f"\ncheckout trace in all {len(SELECTORS)} histograms {time.monotonic() - started:.1f} s after it\n"
    )
