"""Fault switches on the running stack (`make run`'s processes): switched with `python -m tools.faults`,
seen by a gunicorn worker of products without a restart, and gone again when switched off.

Products is called on its own port, not through the gateway, so the gateway's circuit breaker (which the
503s would open for the rest of the session) stays out of it.
"""

from __future__ import annotations

import sys
import time

import httpx

from shopkit.testing.faults import faults_cli
from tests.e2e.conftest import PORTS, Shop

PRODUCTS_URL = PORTS.url("products")


def _until_status(client: httpx.Client, status: int, *, timeout: float = 15.0) -> float:
    """Poll GET /api/products until it answers `status`; the seconds that took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if client.get("/api/products").status_code == status:
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"products never answered {status}")


def test_products_errors_switch_on_and_off_in_the_running_products_process(shop: Shop) -> None:
    with httpx.Client(base_url=PRODUCTS_URL, timeout=10.0) as client:
        # given
        assert client.get("/api/products").status_code == 200
        try:
            # when
            faults_cli("set", "products-errors", "1")
            seen_on = _until_status(client, 503)
            response = client.get("/api/products")
            # then: the fault's problem, while the probes stay green
            assert response.status_code == 503
            assert response.json()["type"] == "https://shop.example/problems/fault-injected"
            assert client.get("/health/ready").status_code == 200
        finally:
            faults_cli("off", "products-errors")
        seen_off = _until_status(client, 200)
        assert [client.get("/api/products").status_code for _ in range(5)] == [200] * 5
    sys.stdout.write(f"\nrunning products saw the fault {seen_on:.2f} s after the CLI, off {seen_off:.2f} s after\n")
