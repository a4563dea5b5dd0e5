"""`manage.py expire_pending_orders --every N` as a process (orders-expirer): it runs again and again, serves
its metrics, logs JSON and stops on SIGTERM. Real PostgreSQL, products the in-process gRPC fake over mutual TLS."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import connection
from django.utils import timezone

from order_svc.orders.models import Order, OrderStatus
from order_svc.tests.factories import OrderFactory
from shopkit.grpc.products import products_client
from shopkit.testing.fake_products import FakeProducts
from shopkit.testing.grpc_tls import GrpcTestPki
from shopkit.testing.kafka import free_port

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_SECONDS = 30


def _poll(check: Callable[[], bool], *, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _runs(metrics_port: int) -> float:
    """shop_order_expiry_runs_total{outcome="ok"} as the process serves it, or -1 while it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=1) as response:
            text = response.read().decode()
    except (urllib.error.URLError, OSError):
        return -1.0
    for line in text.splitlines():
        if line.startswith('shop_order_expiry_runs_total{outcome="ok"}'):
            return float(line.rsplit(" ", 1)[1])
    return -1.0


@contextmanager
def _expirer(grpc_pki: GrpcTestPki, fake: FakeProducts, *, metrics_port: int) -> Iterator[subprocess.Popen[str]]:
    """The expirer every 0.2 s as orders (its test certificate) against the test database; killed if left running."""
    own = grpc_pki.identity("orders")
    db = connection.settings_dict
    env = {
        **os.environ,  # noqa: TID251 - the child process inherits the test environment
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "METRICS_PORT": str(metrics_port),
        "LOG_FORMAT": "json",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "",
        "PRODUCTS_GRPC_TARGET": fake.target,
        "GRPC_TLS_CA_FILE": str(own.ca),
        "GRPC_TLS_CERT_FILE": str(own.cert),
        "GRPC_TLS_KEY_FILE": str(own.key),
    }
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "order_svc" / "manage.py"), "expire_pending_orders", "--every", "0.2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)


def test_the_expirer_runs_every_interval_expires_a_checkout_left_pending_and_stops_on_sigterm(
    transactional_db: None, grpc_pki: GrpcTestPki, fake_products: FakeProducts
) -> None:
    # given: the expirer running, its first runs done
    metrics_port = free_port()
    lamp = fake_products.add_product(stock=10).id
    with _expirer(grpc_pki, fake_products, metrics_port=metrics_port) as process:
        _poll(lambda: _runs(metrics_port) >= 1, what="the first run")

        # when: a checkout is left pending for an hour, holding 4 units, after the process started
        order = OrderFactory.create(
            status=OrderStatus.PENDING,
            created_at=timezone.now() - dt.timedelta(hours=1),
            requested_lines=[{"product_id": str(lamp), "quantity": 4}],
        )
        products_client().reserve_stock(order.id, [(lamp, 4)])
        assert fake_products.stock(lamp) == 6
        _poll(lambda: Order.objects.get(id=order.id).status == OrderStatus.FAILED, what="the order expired")
        # and it keeps going: a run after the one that expired it
        _poll(lambda: _runs(metrics_port) >= 3, what="a third run")
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=15)
        output = process.stdout.read() if process.stdout else ""

    # then: a later run failed it and gave its stock back, and the loop ended cleanly at the signal
    assert Order.objects.get(id=order.id).failure_reason == "abandoned"
    assert fake_products.stock(lamp) == 10
    assert code == 0
    events = [json.loads(line)["event"] for line in output.splitlines() if line.strip()]
    assert events.count("order_expirer_started") == 1
    assert events.count("pending_order_expired") == 1
    assert events[-2:] == ["worker_stop_requested", "order_expirer_stopped"]
