"""One checkout is one trace, across HTTP, gRPC and Kafka, and its id is in every process's JSON logs."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from tests.e2e.conftest import Customer, Shop
from tests.e2e.otlp import ReceivedSpan

SPAN_KIND_SERVER, SPAN_KIND_CONSUMER = 2, 5


def _checkout(api: httpx.Client, staff: Customer, customer: Customer) -> httpx.Response:
    category = api.get("/api/categories").json()["items"][0]["slug"]
    sku = f"TRC-{uuid.uuid4().hex[:8].upper()}"
    product = api.post(
        "/api/products",
        json={"sku": sku, "name": f"Traced Teapot {sku}", "price": "25.00", "stock": 10, "category": category},
        headers=staff.auth,
    ).json()
    api.post("/api/cart/items", json={"product_id": product["id"], "quantity": 1}, headers=customer.auth)
    response = api.post("/api/orders", headers={**customer.auth, "Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 201, response.text
    return response


def _wait_for_spans(shop: Shop, trace_id: str, until: Callable[[list[ReceivedSpan]], bool]) -> list[ReceivedSpan]:
    deadline = time.monotonic() + 30
    spans = shop.otlp.trace(trace_id)
    while not until(spans):
        if time.monotonic() > deadline:
            raise AssertionError(f"trace {trace_id} incomplete: {sorted({(s.service, s.name) for s in spans})}")
        time.sleep(0.2)
        spans = shop.otlp.trace(trace_id)
    return spans


def test_one_checkout_is_one_trace_from_gateway_to_the_carts_consumer(
    shop: Shop, api: httpx.Client, staff: Customer, new_customer: Callable[[], Customer]
) -> None:
    # given
    customer = new_customer()

    # when
    trace_id = _checkout(api, staff, customer).headers["x-trace-id"]

    # then: spans from the gateway, orders, products' gRPC server and the carts consumer share the trace
    def complete(spans: list[ReceivedSpan]) -> bool:
        kinds = {(s.service, s.kind) for s in spans}
        span_ids = {s.span_id for s in spans}
        # each process exports on its own schedule: wait until every parent has arrived too
        every_parent_arrived = all(s.parent_span_id in span_ids for s in spans if s.parent_span_id)
        return (
            every_parent_arrived
            and {
                ("gateway", SPAN_KIND_SERVER),
                ("orders", SPAN_KIND_SERVER),
                ("carts", SPAN_KIND_CONSUMER),
            }
            <= kinds
            and any(s.service == "products" and "ReserveStock" in s.name for s in spans)
        )

    spans = _wait_for_spans(shop, trace_id, complete)
    roots = [s for s in spans if not s.parent_span_id]
    assert len(roots) == 1, roots
    assert roots[0].service == "gateway"
    span_ids = {s.span_id for s in spans}
    assert all(s.parent_span_id in span_ids for s in spans if s.parent_span_id)


def _json_lines(path: Any) -> list[dict[str, Any]]:
    lines = []
    for raw in path.read_text(errors="replace").splitlines():
        try:
            lines.append(json.loads(raw))
        except ValueError:
            continue
    return lines


def test_the_checkout_trace_id_is_in_the_json_logs_of_every_process_it_touched(
    shop: Shop, api: httpx.Client, staff: Customer, new_customer: Callable[[], Customer]
) -> None:
    # given
    customer = new_customer()

    # when
    trace_id = _checkout(api, staff, customer).headers["x-trace-id"]
    processes = ("gateway", "orders", "products-grpc", "orders-relay", "carts-consumer")

    # then
    deadline = time.monotonic() + 30
    missing: list[str] = list(processes)
    while missing and time.monotonic() < deadline:
        missing = [
            name
            for name in processes
            if not any(line.get("trace_id") == trace_id for line in _json_lines(shop.var_dir / "log" / f"{name}.log"))
        ]
        time.sleep(0.3)
    assert missing == [], f"trace {trace_id} missing from the logs of {missing}"
    gateway_lines = [
        line for line in _json_lines(shop.var_dir / "log" / "gateway.log") if line.get("trace_id") == trace_id
    ]
    assert all({"timestamp", "level", "service", "event", "span_id"} <= set(line) for line in gateway_lines)
