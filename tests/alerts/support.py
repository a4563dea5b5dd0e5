"""What the alert-contract tests drive and watch: Prometheus's and Alertmanager's HTTP APIs, the fault
CLI, and small load drivers (customers over the gateway, products on its own port)."""

from __future__ import annotations

import functools
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from shopkit.ports import for_tests
from shopkit.testing import polling
from shopkit.testing.customers import Customer, register_customer
from shopkit.testing.faults import faults_cli

# The suite's shop runs on the tests' port block (tests/alerts/conftest.py), not on make run's.
PORTS = for_tests()
GATEWAY_URL = PORTS.url("gateway")
# Products on its own port: the gateway's circuit breaker would otherwise turn a share of failures into
# "circuit open" answers for every later request (see tests/e2e/test_faults_live.py).
PRODUCTS_URL = PORTS.url("products")
# Orders on its own port: checkouts that reach orders' own alerts without spending the gateway's budget.
ORDERS_URL = PORTS.url("orders")
PROMETHEUS_URL = f"http://127.0.0.1:{PORTS.prometheus}"
ALERTMANAGER_URL = f"http://127.0.0.1:{PORTS.alertmanager}"
POLL_SECONDS = 0.5


# The shared poll at this suite's pace (Prometheus answers; no need to ask it 20 times a second).
poll = functools.partial(polling.poll, interval=POLL_SECONDS)


def switch(name: str, value: str | None = None, *, off: bool = False) -> None:
    """The operator's way: `python -m tools.faults` (what `make fault` runs) on the session's flags file."""
    faults_cli(*(["off", name] if off else ["set", name, *([value] if value is not None else [])]))


# --- Prometheus and Alertmanager ---------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """An alert by name and the labels it must carry (a subset of its labels)."""

    alertname: str
    labels: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, alertname: str, **labels: str) -> Expected:
        return cls(alertname, tuple(sorted(labels.items())))

    def matches(self, alert: dict[str, Any]) -> bool:
        labels = alert["labels"]
        return bool(labels.get("alertname") == self.alertname and all(labels.get(k) == v for k, v in self.labels))

    def __str__(self) -> str:
        return self.alertname + ("{" + ", ".join(f"{k}={v}" for k, v in self.labels) + "}" if self.labels else "")


def describe(alert: dict[str, Any]) -> str:
    labels = {k: v for k, v in alert["labels"].items() if k in {"service", "job", "window"}}
    return f"{alert['labels']['alertname']}{labels} {alert.get('state') or alert.get('status', {}).get('state')}"


# The fast burn-rate page: the window pair a fault must fire and clear (see test_alert_contract.py).
PAGE = "1h/5m"

# The alerts each fault must fire, live; docs/faults.md names the same ones for each fault ("Alerts,
# live") and each one's runbook links back to the fault (tests/infra/test_faults_docs.py).
FAULT_ALERTS: dict[str, tuple[Expected, ...]] = {
    "products-http-latency": (
        Expected.of("HighHttpP99Latency", service="products"),
        Expected.of("BrowseLatencyBudgetBurn", window=PAGE),
    ),
    "products-grpc-latency": (
        Expected.of("CartLatencyBudgetBurn", window=PAGE),
        Expected.of("CheckoutLatencyBudgetBurn", window=PAGE),
    ),
    "products-errors": (
        Expected.of("HighHttp5xxRatio", service="products"),
        Expected.of("BrowseAvailabilityBudgetBurn", window=PAGE),
    ),
    "catalog-cache-off": (Expected.of("CatalogCacheHitRatioLow", service="products"),),
    "carts-unavailable": (
        Expected.of("CheckoutAvailabilityBudgetBurn", window=PAGE),
        Expected.of("CheckoutFailureSpike"),
        Expected.of("HighHttp5xxRatio", service="orders"),
    ),
    "orders-db-slow": (
        Expected.of("CheckoutLatencyBudgetBurn", window=PAGE),
        Expected.of("HighHttpP99Latency", service="orders"),
    ),
    "outbox-relay-stalled": (Expected.of("OutboxNotPublishing", service="orders"),),
    "kafka-unreachable": (Expected.of("OutboxNotPublishing", service="orders"),),
    "consumer-fail-every-event": (Expected.of("EventsDeadLettered", service="carts"),),
    "memory-leak": (Expected.of("ProcessMemoryHigh", job="products"),),
    "gateway-cpu-burn": (
        Expected.of("HighHttpP99Latency", service="gateway"),
        Expected.of("BrowseLatencyBudgetBurn", window=PAGE),
    ),
}


class Prometheus:
    def __init__(self) -> None:
        self.http = httpx.Client(base_url=PROMETHEUS_URL, timeout=5.0)

    def alerts(self) -> list[dict[str, Any]]:
        """Every pending or firing alert the rules hold now."""
        alerts: list[dict[str, Any]] = self.http.get("/api/v1/alerts").json()["data"]["alerts"]
        return alerts

    def firing(self, expected: Expected) -> list[dict[str, Any]]:
        return [a for a in self.alerts() if a["state"] == "firing" and expected.matches(a)]

    def active(self, expected: Expected) -> list[dict[str, Any]]:
        return [a for a in self.alerts() if expected.matches(a)]

    def query(self, expr: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.http.get("/api/v1/query", params={"query": expr}).json()["data"]["result"]
        return result

    def scraped_every_target(self, jobs: set[str], samples: int) -> bool:
        """Every job of `jobs` up, with at least `samples` scrapes in this Prometheus."""
        rows = self.query(f"count_over_time(up[5m]) >= {samples} and up == 1")
        return {row["metric"]["job"] for row in rows} >= jobs


class Alertmanager:
    def __init__(self) -> None:
        self.http = httpx.Client(base_url=ALERTMANAGER_URL, timeout=5.0)

    def active(self, expected: Expected) -> list[dict[str, Any]]:
        alerts: list[dict[str, Any]] = self.http.get("/api/v2/alerts", params={"active": "true"}).json()
        return [a for a in alerts if expected.matches(a) and a["status"]["state"] == "active"]


# --- load --------------------------------------------------------------------------------------------


def register(client: httpx.Client) -> Customer:
    return register_customer(client, prefix="alerts", first_name="Al")


@dataclass
class Counts:
    """Responses a driver got, by status (0: no response: a timeout or a refused connection)."""

    by_status: dict[int, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, status: int) -> None:
        with self.lock:
            self.by_status[status] = self.by_status.get(status, 0) + 1

    def __str__(self) -> str:
        return ", ".join(f"{status}: {n}" for status, n in sorted(self.by_status.items()))


class Shopper:
    """One customer's journeys through the gateway, and products' own API, each one request or one
    add-then-checkout; every response counted by status."""

    def __init__(self, customer: Customer, product_id: str, counts: Counts) -> None:
        self.customer = customer
        self.product_id = product_id
        self.counts = counts
        self.gateway = httpx.Client(base_url=GATEWAY_URL, timeout=10.0)
        self.products = httpx.Client(base_url=PRODUCTS_URL, timeout=10.0)
        self.orders = httpx.Client(base_url=ORDERS_URL, timeout=10.0)

    def _send(self, client: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response | None:
        try:
            response = client.request(method, url, **kwargs)
            if response.status_code == 401 and "headers" in kwargs:
                # The access token expired (the suite outlives its lifetime): sign in again, once.
                self._sign_in()
                kwargs["headers"] = {**kwargs["headers"], **self.customer.auth}
                response = client.request(method, url, **kwargs)
        except httpx.HTTPError:
            self.counts.add(0)
            return None
        self.counts.add(response.status_code)
        return response

    def _sign_in(self) -> None:
        tokens = self.gateway.post(
            "/api/auth/login", json={"email": self.customer.email, "password": self.customer.password}
        )
        if tokens.status_code == 200:
            self.customer.access = tokens.json()["access"]

    def browse(self) -> None:
        self._send(self.gateway, "GET", "/api/products")
        self._send(self.gateway, "GET", f"/api/products/{self.product_id}")

    def products_api(self) -> None:
        self._send(self.products, "GET", "/api/products")

    def cart_change(self) -> None:
        self._send(
            self.gateway,
            "POST",
            "/api/cart/items",
            json={"product_id": self.product_id, "quantity": 1},
            headers=self.customer.auth,
        )
        self._send(self.gateway, "DELETE", f"/api/cart/items/{self.product_id}", headers=self.customer.auth)

    def reads(self) -> None:
        """The customer's cart and orders, through the gateway: cheap requests to carts and orders."""
        self._send(self.gateway, "GET", "/api/cart", headers=self.customer.auth)
        self._send(self.gateway, "GET", "/api/orders", headers=self.customer.auth)

    def _cart_lines(self) -> list[dict[str, Any]]:
        response = self.gateway.get("/api/cart", headers=self.customer.auth)
        if response.status_code == 401:
            self._sign_in()
            response = self.gateway.get("/api/cart", headers=self.customer.auth)
        return list(response.json()["lines"]) if response.status_code == 200 else []

    def checkout(self, *, settle_seconds: float = 3.0, direct: bool = False) -> None:
        """One item, one checkout (through the gateway, or `direct` to orders). An order's event empties
        the cart a moment later, so wait for that before the next journey (else it would empty the next
        one's cart); lines left over (the event failed, or was never sent) are removed by hand."""
        if self._cart_lines():
            self._send(self.gateway, "DELETE", f"/api/cart/items/{self.product_id}", headers=self.customer.auth)
        self._send(
            self.gateway,
            "POST",
            "/api/cart/items",
            json={"product_id": self.product_id, "quantity": 1},
            headers=self.customer.auth,
        )
        response = self._send(
            self.orders if direct else self.gateway,
            "POST",
            "/api/orders",
            headers={**self.customer.auth, "Idempotency-Key": f"alerts-{uuid.uuid4()}"},
        )
        if response is not None and response.status_code == 201:
            deadline = time.monotonic() + settle_seconds
            while self._cart_lines() and time.monotonic() < deadline:
                time.sleep(0.05)

    def close(self) -> None:
        self.gateway.close()
        self.products.close()
        self.orders.close()


@contextmanager
def driving(
    shoppers: list[Shopper], journey: Callable[[Shopper], None], *, pause: float = 0.0, limit: int = 5000
) -> Iterator[Counts]:
    """Every shopper runs `journey` over and over in its own thread (at most `limit` journeys each,
    `pause` seconds apart) until the block ends; yields the responses' counts."""
    stop = threading.Event()
    counts = shoppers[0].counts

    def loop(shopper: Shopper) -> None:
        for _ in range(limit):
            if stop.is_set():
                return
            journey(shopper)
            if pause:
                stop.wait(pause)

    threads = [threading.Thread(target=loop, args=(s,), daemon=True) for s in shoppers]
    for thread in threads:
        thread.start()
    try:
        yield counts
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
