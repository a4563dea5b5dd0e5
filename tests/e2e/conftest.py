"""Starts the whole shop (every real process) on PostgreSQL, Redis and an embedded Kafka broker.

On the tests' own port block (shopkit.ports.for_tests), so the suite runs while `make run` is up.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis

from shopkit import processes
from shopkit.ports import for_tests
from shopkit.testing.customers import Customer, register_customer, sign_in
from tests.e2e.otlp import OtlpReceiver
from tests.e2e.tcpproxy import TcpProxy
from tools.shoprun import DOMAIN_SERVICES, Stack

# Where the suite's shop listens: the tests' block, never make run's ports.
PORTS = for_tests()
PG_BASE = os.environ.get("TEST_PG_BASE_URL", "postgres://postgres@127.0.0.1:5432")


def _fresh_databases(orders_via: TcpProxy) -> dict[str, str]:
    """One new database per service; orders reaches its database through a proxy the tests can cut."""
    urls = {}
    with psycopg.connect(f"{PG_BASE}/postgres", autocommit=True) as conn:
        for name in DOMAIN_SERVICES:
            db = f"shop_e2e_{name}"
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{db}"')
            urls[f"SHOP_{name.upper()}_DATABASE_URL"] = f"{PG_BASE}/{db}"
    user_and_host = PG_BASE.rsplit(":", 1)[0]
    urls["SHOP_ORDERS_DATABASE_URL"] = f"{user_and_host}:{orders_via.port}/shop_e2e_orders"
    return urls


class RedisServer:
    """A private redis-server for the suite, so tests can stop and start it without touching the machine's."""

    def __init__(self) -> None:
        self.port = processes.free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is required"
        self.proc = processes.spawn(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        processes.wait_until(self._answers, timeout=10, what="redis-server", process=self.proc)

    def _answers(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url, socket_timeout=0.5).ping())
        except redis.ConnectionError:
            return False

    def stop(self) -> None:
        processes.stop([self.proc], grace=10)
        self.proc = None


def _print_logs(var_dir: Path) -> None:
    for log in sorted((var_dir / "log").glob("*.log")):
        lines = log.read_text(errors="replace").splitlines()[-40:]
        sys.stderr.write(f"\n----- {log.name} (last {len(lines)} lines) -----\n" + "\n".join(lines) + "\n")


@dataclass
class Shop:
    stack: Stack
    base_url: str
    var_dir: Path
    redis: RedisServer
    orders_db: TcpProxy
    otlp: OtlpReceiver

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=10.0)


@pytest.fixture(scope="session")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    var_dir = tmp_path_factory.mktemp("shop-var")
    redis_server = RedisServer()
    redis_server.start()
    pg_host, pg_port = PG_BASE.rsplit("@", 1)[-1].split(":")
    orders_db = TcpProxy(pg_host, int(pg_port))
    otlp = OtlpReceiver()
    environ = {
        **os.environ,
        **PORTS.environ(),
        **_fresh_databases(orders_db),
        "CACHE_URL": redis_server.url,
        "LOG_FORMAT": "json",
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint,
        "OTEL_TRACES_SAMPLER_ARG": "1.0",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        # Rate limiting stays on (through the suite's Redis) with limits that many journeys from one
        # address never reach; the gateway's own suite tests each limit.
        "RATE_LIMIT_LOGIN": "10000/m",
        "RATE_LIMIT_LOGIN_ACCOUNT": "10000/m",
        "RATE_LIMIT_REGISTER": "10000/m",
        "RATE_LIMIT_REFRESH": "10000/m",
        "RATE_LIMIT_CHECKOUT": "10000/m",
        "RATE_LIMIT_DEFAULT": "100000/m",
        # Admin sessions re-check with users every second (30 s in production), so the staff-console
        # tests see a revoked session end quickly; their many admin sign-ins stay under the sign-in limit.
        "STAFF_SESSION_CHECK_SECONDS": "1",
        "ADMIN_LOGIN_RATE": "10000/m",
        # Verifiers keep the users service's JWKS for 2 s (300 s in production), so the key-rotation test
        # sees a dropped key refused quickly; an unknown kid refreshes at most once a second.
        "JWT_JWKS_CACHE_SECONDS": "2",
        "JWT_JWKS_MIN_REFRESH_SECONDS": "1",
    }
    environ.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    stack = Stack(environ=environ, stream=False, var_dir=var_dir)
    try:
        stack.prepare()
        stack.start()
        stack.wait_healthy(timeout=120)
    except Exception:
        _print_logs(var_dir)
        stack.stop()
        redis_server.stop()
        raise
    yield Shop(
        stack=stack,
        base_url=PORTS.url("gateway"),
        var_dir=var_dir,
        redis=redis_server,
        orders_db=orders_db,
        otlp=otlp,
    )
    stack.stop()
    redis_server.stop()
    orders_db.close()
    otlp.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.failed and "shop" in getattr(item, "funcargs", {}):
        _print_logs(item.funcargs["shop"].var_dir)


@pytest.fixture
def api(shop: Shop) -> Iterator[httpx.Client]:
    with shop.client() as client:
        yield client


@pytest.fixture
def new_customer(api: httpx.Client) -> Callable[[], Customer]:
    return lambda: register_customer(api, prefix="e2e")


@pytest.fixture
def staff(api: httpx.Client) -> Customer:
    email = os.environ.get("SHOP_DEMO_STAFF_EMAIL", "staff@example.com")
    password = os.environ.get("SHOP_DEMO_STAFF_PASSWORD", "staff-demo-pass")
    return sign_in(api, email, password)
