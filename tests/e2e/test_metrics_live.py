"""A real Prometheus (Debian's package) scrapes the running shop after a short scripted load; every
PromQL query of every Grafana dashboard must return data, and the alert rules must load and evaluate.

The data store exporters are Debian's too (prometheus-postgres-exporter, prometheus-redis-exporter): one per
suite database and one on the suite's Redis, scraped under the compose jobs' names and labels, so the
Data Stores dashboard and the data store alerts run against real servers."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import yaml

from shopkit.testing.exemplars import prometheus_on, stored_exemplars
from tests.e2e.conftest import PG_BASE, PORTS, Customer, Shop
from tests.infra.dashboards import dashboard_queries, iter_panels, load_dashboards
from tools.shoprun import DOMAIN_SERVICES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_PROMETHEUS = ROOT / "compose" / "prometheus" / "prometheus.yml"
# Each process's metrics port, on the suite's port block (tests/e2e/conftest.py).
LOCAL_TARGETS = {
    "gateway": PORTS.gateway,
    "users": PORTS.users,
    "products": PORTS.products,
    "orders": PORTS.orders,
    "carts": PORTS.carts,
    "products-grpc": PORTS.products_grpc_metrics,
    "users-relay": PORTS.users_relay_metrics,
    "orders-relay": PORTS.orders_relay_metrics,
    "carts-consumer": PORTS.carts_consumer_metrics,
    "products-consumer": PORTS.products_consumer_metrics,
    "orders-expirer": PORTS.orders_expirer_metrics,
}

HTTP_JOBS = {"gateway", "users", "products", "orders", "carts"}

# compose job -> the suite database its postgres exporter watches (compose: <service>-db-exporter -> <service>-db)
DATABASE_EXPORTERS = {f"{name}-db-exporter": f"shop_e2e_{name}" for name in DOMAIN_SERVICES}
REDIS_EXPORTER = "redis-exporter"
DATASTORE_RULES = COMPOSE_PROMETHEUS.parent / "rules" / "shop-datastores.yml"
# compose's Redis runs with maxmemory (the memory panels and RedisMemoryNearLimit need one); the suite's gets
# the same for this module
REDIS_MAXMEMORY = "128mb"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _local_config(tmp: Path, exporters: dict[str, int]) -> Path:
    """The compose stack's scrape jobs and rules, pointed at this machine's processes and exporters."""
    compose = yaml.safe_load(COMPOSE_PROMETHEUS.read_text())
    targets = {**LOCAL_TARGETS, **exporters}
    jobs = []
    for job in compose["scrape_configs"]:
        name = job["job_name"]
        if name not in targets:
            continue
        labels = job["static_configs"][0].get("labels", {})
        jobs.append(
            {
                "job_name": name,
                "metrics_path": job.get("metrics_path", "/metrics"),
                "static_configs": [{"targets": [f"127.0.0.1:{targets[name]}"], "labels": labels}],
            }
        )
    assert {j["job_name"] for j in jobs} == set(targets), "compose scrape jobs and local processes differ"
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(p) for p in sorted((COMPOSE_PROMETHEUS.parent / "rules").glob("*.yml"))],
        "scrape_configs": jobs,
    }
    path = tmp / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def _wait_for_metric(url: str, line: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Until the exporter at `url` exports `line` (its server reached), at most 20 s."""
    deadline = time.monotonic() + 20
    while True:
        try:
            if line in httpx.get(url, timeout=2).text.splitlines():
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            raise AssertionError(f"{url}: no `{line}`\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def exporters(shop: Shop, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, int]]:
    """Debian's exporters on free ports: one per suite database (as compose runs one per database) and one on
    the suite's Redis, given compose's maxmemory for the module. Job name -> port."""
    postgres_binary = shutil.which("prometheus-postgres-exporter")
    redis_binary = shutil.which("prometheus-redis-exporter")
    if postgres_binary is None or redis_binary is None:
        pytest.fail("Debian's prometheus-postgres-exporter and prometheus-redis-exporter are required (.ci/run)")
    tmp = tmp_path_factory.mktemp("exporters")
    client = redis.Redis.from_url(shop.redis.url)
    maxmemory = client.config_get("maxmemory")["maxmemory"]
    client.config_set("maxmemory", REDIS_MAXMEMORY)
    ports: dict[str, int] = {}
    started: list[tuple[str, subprocess.Popen[bytes], Path]] = []
    try:
        for job, database in DATABASE_EXPORTERS.items():
            ports[job] = _free_port()
            log = tmp / f"{job}.log"
            # only what the exporter is given here: never a DATA_SOURCE_* of the caller's environment
            env = {"PATH": "/usr/bin:/bin", "DATA_SOURCE_NAME": f"{PG_BASE}/{database}?sslmode=disable"}
            argv = [postgres_binary, f"--web.listen-address=127.0.0.1:{ports[job]}"]
            started.append(
                (job, subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb")), log)
            )
        ports[REDIS_EXPORTER] = _free_port()
        log = tmp / f"{REDIS_EXPORTER}.log"
        argv = [
            redis_binary,
            f"--redis.addr=redis://127.0.0.1:{shop.redis.port}",
            f"--web.listen-address=127.0.0.1:{ports[REDIS_EXPORTER]}",
        ]
        started.append(
            (REDIS_EXPORTER, subprocess.Popen(argv, env={}, stdout=subprocess.DEVNULL, stderr=log.open("wb")), log)
        )
        for job, proc, log in started:
            _wait_for_metric(
                f"http://127.0.0.1:{ports[job]}/metrics",
                "redis_up 1" if job == REDIS_EXPORTER else "pg_up 1",
                proc,
                log,
            )
        yield ports
    finally:
        for _, proc, _ in started:
            proc.terminate()
        for _, proc, _ in started:
            proc.wait(timeout=15)
        client.config_set("maxmemory", maxmemory)


@pytest.fixture(scope="module")
def prometheus(shop: Shop, exporters: dict[str, int], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("prometheus")
    with prometheus_on(_local_config(tmp, exporters), tmp) as url:
        yield url


def _query(prometheus: str, expr: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=10)
    body = response.json()
    assert body["status"] == "success", (expr, body)
    return list(body["data"]["result"])


def _scripted_load(shop: Shop, api: httpx.Client, staff: Customer, new_customer: Callable[[], Customer]) -> None:
    """A few customers' worth of everything the dashboards show: browsing, errors, carts, orders, cancels,
    and one short outage of the orders database (order list and checkout), so the error panels have real
    5xx and exceptions."""
    category = api.get("/api/categories").json()["items"][0]["slug"]
    sku = f"MET-{uuid.uuid4().hex[:8].upper()}"
    product = api.post(
        "/api/products",
        json={"sku": sku, "name": f"Metered Clock {sku}", "price": "15.00", "stock": 100, "category": category},
        headers=staff.auth,
    ).json()
    for _ in range(3):
        customer = new_customer()
        api.get("/api/products", params={"page_size": 5, "ordering": "-price"})
        api.get(f"/api/products/{product['id']}")
        api.get(f"/api/products/{uuid.uuid4()}")  # 404
        api.post("/api/auth/login", json={"email": customer.email, "password": "wrong-password"})  # 401
        api.post("/api/cart/items", json={"product_id": product["id"], "quantity": 1}, headers=customer.auth)
        order = api.post("/api/orders", headers={**customer.auth, "Idempotency-Key": str(uuid.uuid4())}).json()
        api.get("/api/orders", headers=customer.auth)
        api.post(f"/api/orders/{order['id']}/cancel", headers=customer.auth)
        api.post("/api/orders", headers={**customer.auth, "Idempotency-Key": str(uuid.uuid4())})  # empty cart: 422
    # gRPC answers that are not OK, made here so the gRPC error panels never depend on what earlier tests did
    # (their 1 m rate window): an unknown product (NOT_FOUND) and a checkout of more than is left
    # (FAILED_PRECONDITION)
    unknown = api.post("/api/cart/items", json={"product_id": str(uuid.uuid4()), "quantity": 1}, headers=customer.auth)
    assert unknown.status_code == 404, unknown.text
    scarce = api.post(
        "/api/products",
        json={"sku": f"{sku}-S", "name": f"Scarce Clock {sku}", "price": "9.00", "stock": 2, "category": category},
        headers=staff.auth,
    ).json()
    api.post("/api/cart/items", json={"product_id": scarce["id"], "quantity": 2}, headers=customer.auth)
    api.patch(f"/api/products/{scarce['id']}", json={"stock_on_hand": 1}, headers=staff.auth)
    short = api.post("/api/orders", headers={**customer.auth, "Idempotency-Key": str(uuid.uuid4())})
    assert short.status_code == 409, short.text
    shop.orders_db.cut()
    try:
        for _ in range(2):
            outage = api.get("/api/orders", headers=customer.auth)
            assert outage.status_code == 503, outage.text
        # and a checkout: a 5xx on an SLO route, the bad events of the SLO dashboard
        outage = api.post("/api/orders", headers={**customer.auth, "Idempotency-Key": str(uuid.uuid4())})
        assert outage.status_code == 503, outage.text
    finally:
        shop.orders_db.restore()


def test_every_dashboard_query_returns_data(
    shop: Shop,
    prometheus: str,
    exporters: dict[str, int],
    api: httpx.Client,
    staff: Customer,
    new_customer: Callable[[], Customer],
) -> None:
    # given: every target is scraped, the exporters' too
    deadline = time.monotonic() + 30
    while len(_query(prometheus, "up == 1")) < len(LOCAL_TARGETS) + len(exporters):
        if time.monotonic() > deadline:
            down = [r["metric"]["job"] for r in _query(prometheus, "up == 0")]
            raise AssertionError(f"targets down: {down}")
        time.sleep(0.5)

    # when: a short scripted load, then a few scrapes
    _scripted_load(shop, api, staff, new_customer)
    queries = dashboard_queries()
    assert len(queries) >= 20
    deadline = time.monotonic() + 30
    pending = list(queries)
    while pending and time.monotonic() < deadline:
        time.sleep(1.0)
        pending = [q for q in pending if not _query(prometheus, q.runnable())]

    # then
    empty = [f"{q.dashboard} / {q.panel}: {q.expr}" for q in pending]
    assert empty == [], "queries without data:\n" + "\n".join(empty)


def _exemplar_queries() -> list[tuple[str, str]]:
    """(panel, runnable PromQL) of every dashboard target that draws exemplars."""
    runnable = {(q.dashboard, q.panel, q.expr): q.runnable() for q in dashboard_queries()}
    return [
        (f"{board['uid']} / {panel['title']}", runnable[(board["uid"], panel["title"], target["expr"])])
        for board in load_dashboards().values()
        for panel in iter_panels(board["panels"])
        for target in panel.get("targets", [])
        if target.get("exemplar")
    ]


def test_every_latency_panel_with_exemplars_finds_them_in_prometheus(
    prometheus: str, api: httpx.Client, staff: Customer, new_customer: Callable[[], Customer]
) -> None:
    # given: a product (products), a customer (users), a cart (carts) and a checkout (orders, products-grpc over
    # gRPC, the consumers through Kafka), each request traced from the gateway
    category = api.get("/api/categories").json()["items"][0]["slug"]
    sku = f"EXL-{uuid.uuid4().hex[:8].upper()}"
    product = api.post(
        "/api/products",
        json={"sku": sku, "name": f"Exemplar Lamp {sku}", "price": "21.00", "stock": 10, "category": category},
        headers=staff.auth,
    )
    assert product.status_code == 201, product.text
    customer = new_customer()
    added = api.post("/api/cart/items", json={"product_id": product.json()["id"], "quantity": 1}, headers=customer.auth)
    assert added.status_code in (200, 201), added.text
    checkout = api.post("/api/orders", headers={**customer.auth, "Idempotency-Key": str(uuid.uuid4())})
    assert checkout.status_code == 201, checkout.text
    queries = _exemplar_queries()
    assert len(queries) >= 9

    # when: Prometheus (exemplar storage on) has scraped them, asked as Grafana asks (query_exemplars, the panel's
    # own expression)
    def found(expr: str) -> list[dict[str, Any]]:
        return [s for s in stored_exemplars(prometheus, expr) if s["exemplars"]]

    deadline = time.monotonic() + 60
    pending = list(queries)
    by_view = "django_http_requests_latency_seconds_by_view_method_bucket"
    jobs: set[str] = set()
    while (pending or jobs != HTTP_JOBS) and time.monotonic() < deadline:
        time.sleep(1.0)
        pending = [(panel, expr) for panel, expr in pending if not found(expr)]
        jobs = {s["seriesLabels"]["job"] for s in found(by_view)}

    # then: every such panel has exemplars to draw, each a trace id; every HTTP service's own latency carries them
    assert pending == [], "panels without exemplars:\n" + "\n".join(f"{p}: {e}" for p, e in pending)
    for _, expr in queries:
        assert all(re.fullmatch(r"[0-9a-f]{32}", e["labels"]["trace_id"]) for s in found(expr) for e in s["exemplars"])
    assert jobs == HTTP_JOBS


def test_alert_rules_load_and_evaluate_against_live_data(prometheus: str) -> None:
    # when
    rules = httpx.get(f"{prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]

    # then: every rule loaded and its last evaluation succeeded
    evaluated = [rule for group in rules for rule in group["rules"]]
    assert len(evaluated) >= 7
    deadline = time.monotonic() + 15
    while any(rule.get("health") != "ok" for rule in evaluated) and time.monotonic() < deadline:
        time.sleep(1)
        rules = httpx.get(f"{prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
        evaluated = [rule for group in rules for rule in group["rules"]]
    assert [(r["name"], r.get("health"), r.get("lastError")) for r in evaluated if r.get("health") != "ok"] == []


def test_data_store_alert_expressions_measure_every_exporter_live(prometheus: str, exporters: dict[str, int]) -> None:
    # given: each data store alert's expression without its threshold (`pg_up == 0` -> `pg_up`, `... > 0.8` -> `...`)
    rules = [rule for group in yaml.safe_load(DATASTORE_RULES.read_text())["groups"] for rule in group["rules"]]
    measured = {rule["alert"]: re.sub(r"\s*(==|>)\s*[0-9.]+\s*$", "", rule["expr"].strip()) for rule in rules}
    assert all(measured[name] != rule["expr"].strip() for name, rule in zip(measured, rules, strict=True))
    jobs = {"Postgres": set(DATABASE_EXPORTERS), "Redis": {REDIS_EXPORTER}}

    # when: every exporter has been scraped at least twice
    deadline = time.monotonic() + 30
    while len(_query(prometheus, 'count_over_time(up{job=~".*exporter"}[1m]) >= 2')) < len(exporters):
        assert time.monotonic() < deadline, "exporters not scraped twice within 30 s"
        time.sleep(0.5)

    # then: a value for every exporter's job: up for the Down alerts, a share between 0 and 1 for the others
    for name, expr in measured.items():
        result = _query(prometheus, expr)
        values = {r["metric"]["job"]: float(r["value"][1]) for r in result}
        expected = next(j for prefix, j in jobs.items() if name.startswith(prefix))
        assert set(values) == expected, (name, expr, result)
        if name.endswith("Down"):
            assert set(values.values()) == {1.0}, (name, values)
        else:
            assert all(0 < value < 1 for value in values.values()), (name, values)
