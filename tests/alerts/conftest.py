"""`make run`'s processes with its Prometheus and Alertmanager (Debian's binaries), for the alert contract.

The shop runs as `make run` runs it: SQLite files, local caches, the embedded Kafka broker, one gunicorn
worker per service, and `Stack(monitoring=True)`. Three settings differ, each documented where it is
read: Prometheus scrapes and evaluates every second (SHOP_PROMETHEUS_SCRAPE_INTERVAL), every alert's
`for:` is cut to a few seconds in a copy of the rules (SHOP_ALERT_FOR_CAP; the expressions are the ones
in compose/prometheus/rules), and Alertmanager delivers to a webhook receiver this suite runs
(SHOP_ALERT_WEBHOOK_URL). It runs on the tests' own port block (shopkit.ports.for_tests), so `make run` may be
up meanwhile; the e2e suite and infra's live `make run` use the same block (flock /tmp/shop-ports.lock).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.alerts.support import (
    GATEWAY_URL,
    PORTS,
    PROMETHEUS_URL,
    Counts,
    Customer,
    Prometheus,
    Shopper,
    poll,
    register,
)
from tests.e2e.conftest import _print_logs
from tests.stack.support import WebhookReceiver
from tools.shoprun import Stack

FOR_CAP = "3s"
SCRAPE_INTERVAL = "1s"
SHOPPERS = 4


@dataclass
class Shop:
    stack: Stack
    var_dir: Path
    webhook: WebhookReceiver
    customers: list[Customer]
    product_id: str

    def shoppers(self, n: int = SHOPPERS) -> list[Shopper]:
        counts = Counts()
        return [Shopper(customer, self.product_id, counts) for customer in self.customers[:n]]

    def late_events_shopper(self) -> Shopper:
        """The customer no other test uses: its orders' events may empty its cart long after checkout."""
        return Shopper(self.customers[SHOPPERS], self.product_id, Counts())


def _stocked_product(client: httpx.Client) -> str:
    """A demo product with more stock on hand than any run of the suite sells (staff set it over the API)."""
    staff = client.post(
        "/api/auth/login",
        json={
            "email": os.environ.get("SHOP_DEMO_STAFF_EMAIL", "staff@example.com"),
            "password": os.environ.get("SHOP_DEMO_STAFF_PASSWORD", "staff-demo-pass"),
        },
    )
    assert staff.status_code == 200, staff.text
    product = client.get("/api/products").json()["items"][0]
    restocked = client.patch(
        f"/api/products/{product['id']}",
        json={"stock_on_hand": 1_000_000},
        headers={"Authorization": f"Bearer {staff.json()['access']}"},
    )
    assert restocked.status_code == 200, restocked.text
    return str(product["id"])


@pytest.fixture(scope="session")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    if shutil.which("prometheus") is None or shutil.which("prometheus-alertmanager") is None:
        pytest.fail("the alert contract needs Debian's prometheus and prometheus-alertmanager (see .ci/run)")
    var_dir = tmp_path_factory.mktemp("alerts-var")
    webhook = WebhookReceiver("127.0.0.1", 0)
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.endswith("DATABASE_URL") and key not in {"CACHE_URL", "KAFKA_BOOTSTRAP_SERVERS"}
    }
    environ.update(
        {
            **PORTS.environ(),
            "SHOP_PROMETHEUS_SCRAPE_INTERVAL": SCRAPE_INTERVAL,
            "SHOP_ALERT_FOR_CAP": FOR_CAP,
            "SHOP_ALERT_WEBHOOK_URL": webhook.base_url + "/alerts",
            "LOG_FORMAT": "json",
            # Access tokens outlive the suite (the default 300 s would mean signing in again mid-test:
            # password hashing on a busy machine then shows as users' p99, an alert of its own).
            "JWT_ACCESS_TTL_SECONDS": "900",
            # Many journeys from one address: rate limits stay on, far above what the suite sends.
            "RATE_LIMIT_LOGIN": "10000/m",
            "RATE_LIMIT_LOGIN_ACCOUNT": "10000/m",
            "RATE_LIMIT_REGISTER": "10000/m",
            "RATE_LIMIT_CHECKOUT": "100000/m",
            "RATE_LIMIT_DEFAULT": "1000000/m",
        }
    )
    stack = Stack(environ=environ, stream=False, var_dir=var_dir, monitoring=True)
    try:
        stack.prepare()
        stack.start()
        stack.wait_healthy(timeout=120)
        assert stack.monitoring_notice is None, stack.monitoring_notice
        with httpx.Client(base_url=GATEWAY_URL, timeout=10.0) as client:
            product_id = _stocked_product(client)
            # One more than the contracts' shoppers: the relay tests' own, whose orders' events arrive late.
            customers = [register(client) for _ in range(SHOPPERS + 1)]
    except Exception:
        _print_logs(var_dir)
        stack.stop()
        webhook.stop()
        raise
    yield Shop(stack=stack, var_dir=var_dir, webhook=webhook, customers=customers, product_id=product_id)
    stack.stop()
    webhook.stop()


@pytest.fixture
def prometheus(shop: Shop) -> Prometheus:
    """A Prometheus with no history: the one `make run` started, stopped, its data removed and started
    again, so no test sees another's samples in its windows or its alerts. Ready once every process of
    the shop has been scraped at least twice (rates need two samples)."""
    stack = shop.stack
    # Killed, not stopped: its data is thrown away anyway, and a clean shutdown takes seconds.
    [process] = [p for p in stack.processes if p.name == "prometheus"]
    assert process.popen is not None
    process.popen.kill()
    process.popen.wait(timeout=30)
    shutil.rmtree(stack.monitoring_layout.prometheus_data, ignore_errors=True)
    stack.restart_process("prometheus")
    poll(lambda: _ready(), seconds=30, what="Prometheus ready")
    client = Prometheus()
    jobs = {p.name for p in stack.processes if p.metrics_port is not None}
    poll(lambda: client.scraped_every_target(jobs, 2), seconds=30, what="every process scraped twice")
    return client


def _ready() -> bool:
    try:
        return httpx.get(f"{PROMETHEUS_URL}/-/ready", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.failed and "shop" in getattr(item, "funcargs", {}):
        _print_logs(item.funcargs["shop"].var_dir)
