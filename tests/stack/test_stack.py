"""The full stack, black-box, the way its three kinds of users come in: customers over HTTPS through Caddy,
staff to the admins through Caddy's admin ports, operators through Prometheus, Alertmanager, logs and
`docker stats`. The tests run in this order on one stack (a container stopped by one is checked by a later
one while the others run)."""

from __future__ import annotations

import json
import re
import sys
import time
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import yaml

from shopkit.ports import DEFAULT
from shopkit.testing.customers import register_customer
from tests.infra.dashboards import dashboard_queries
from tests.stack.support import COMPOSE_FILE, Stack, poll

# Every long-running Shop process and the one-shot jobs, by compose service.
SHOP_SERVICES = (
    "gateway",
    "users",
    "products",
    "orders",
    "carts",
    *DEFAULT.worker_metrics(),
)
ONE_SHOT = (
    "shop-image",
    "users-migrate",
    "products-migrate",
    "orders-migrate",
    "carts-migrate",
    "users-seed",
    "products-seed",
    "kafka-init",
)
ADMINS = {"users": 5000, "products": 5001, "orders": 5002, "carts": 5003}
# The data store exporters (default profile) and the servers each one watches.
EXPORTERS = {
    **{f"{name}-db-exporter": f"{name}-db" for name in ("users", "products", "orders", "carts")},
    "redis-exporter": "redis",
}
# Images without a shell or HTTP client: Prometheus watches them (up and TargetDown), Docker does not.
NO_HEALTH_CHECK = ("redis-exporter",)
# Stopped to see TargetDown fire and resolve; nothing the other tests use needs it.
STOPPED = "users-relay"
TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
RULE_GROUPS = [
    group["name"]
    for path in sorted((COMPOSE_FILE.parent / "prometheus" / "rules").glob("*.yml"))
    for group in yaml.safe_load(path.read_text())["groups"]
]


def test_every_container_is_healthy_the_way_its_callers_reach_it(stack: Stack) -> None:
    containers = {c["Service"]: c for c in stack.containers()}

    for name in ONE_SHOT:
        assert (containers[name]["State"], containers[name]["ExitCode"]) == ("exited", 0), name
    long_running = {name: c for name, c in containers.items() if name not in ONE_SHOT}
    assert {name: c["State"] for name, c in long_running.items()} == dict.fromkeys(long_running, "running")
    assert {name: c["Health"] for name, c in long_running.items()} == {
        name: "" if name in NO_HEALTH_CHECK else "healthy" for name in long_running
    }
    # the data store exporters start by default; the `tools` profile's consoles do not
    assert set(EXPORTERS) <= set(long_running)
    assert {"pgadmin", "redisinsight"} & set(containers) == set()
    sys.stdout.write("\none-shot jobs (seconds from start to exit):\n")
    for name in ONE_SHOT:
        state = json.loads(stack.engine.docker("inspect", containers[name]["ID"]).stdout)[0]["State"]
        sys.stdout.write(f"  {name:<20} {_seconds(state['StartedAt'], state['FinishedAt']):6.1f}\n")
    # products' gRPC server answers orders and carts, each dialling it by name with its own certificate
    for caller in ("orders", "carts"):
        probe = stack.compose(
            "exec", "-T", caller, "python", "compose/healthcheck.py", "grpc", "products-grpc:50051", check=False
        )
        assert probe.returncode == 0, (caller, probe.stderr)


def _seconds(started: str, finished: str) -> float:
    """Seconds between two of Docker's RFC 3339 timestamps (nanoseconds cut to microseconds)."""

    def parse(stamp: str) -> datetime:
        head, _, fraction = stamp.rstrip("Z").partition(".")
        return datetime.fromisoformat(f"{head}.{(fraction or '0')[:6]:0<6}+00:00")

    return (parse(finished) - parse(started)).total_seconds()


def _stock(api: httpx.Client, product_id: str) -> int:
    return int(api.get(f"/api/products/{product_id}").json()["stock"])


def test_a_customer_buys_and_cancels_over_https_through_caddy(stack: Stack) -> None:
    with stack.https() as api:
        # given: the seeded catalog, browsed anonymously
        catalog = api.get("/api/products")
        assert catalog.status_code == 200, catalog.text
        assert catalog.headers["strict-transport-security"].startswith("max-age=")
        products = [p for p in catalog.json()["items"] if int(p["stock"]) >= 2]
        assert products, f"the demo catalog has nothing in stock: {catalog.text[:500]}"
        product = api.get(f"/api/products/{products[0]['id']}").json()
        before = int(product["stock"])
        auth = register_customer(api, prefix="stack", first_name="Ada").auth

        # when: one unit goes into the cart and is checked out
        added = api.post("/api/cart/items", json={"product_id": product["id"], "quantity": 1}, headers=auth)
        assert added.status_code == 200, added.text
        placed = api.post("/api/orders", headers={**auth, "Idempotency-Key": f"stack-{uuid.uuid4()}"})

        # then: confirmed, priced by products, stock reserved, the cart emptied by the event
        assert placed.status_code == 201, placed.text
        order = placed.json()
        assert (order["status"], Decimal(order["total"])) == ("confirmed", Decimal(product["price"]))
        stack.state["checkout_trace_id"] = placed.headers["x-trace-id"]
        assert _stock(api, product["id"]) == before - 1
        poll(
            lambda: api.get("/api/cart", headers=auth).json()["lines"],
            lambda lines: lines == [],
            seconds=30,
            what="cart emptied",
        )

        # when: the customer cancels; then: the unit comes back
        cancelled = api.post(f"/api/orders/{order['id']}/cancel", headers=auth)
        assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled"), cancelled.text
        poll(lambda: _stock(api, product["id"]), lambda stock: stock == before, seconds=30, what="stock back")

        # and nothing internal is served at the edge
        assert api.get("/metrics").status_code == 404
        assert api.get("/health/ready").status_code == 404


def test_staff_sign_in_to_every_admin_through_caddy(stack: Stack) -> None:
    email, password = stack.values["SHOP_DEMO_STAFF_EMAIL"], stack.values["SHOP_DEMO_STAFF_PASSWORD"]
    domain = stack.values.get("SHOP_DOMAIN", "localhost")
    for service, port in ADMINS.items():
        with stack.https(port) as admin:
            login = admin.get("/admin/login/")
            assert login.status_code == 200, (service, login.text[:300])
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text)
            assert token, service
            signed_in = admin.post(
                "/admin/login/?next=/admin/",
                data={
                    "csrfmiddlewaretoken": token.group(1),
                    "username": email,
                    "password": password,
                    "next": "/admin/",
                },
                headers={"Referer": f"https://{domain}:{port}/admin/login/"},
            )
            assert (signed_in.status_code, signed_in.headers.get("location")) == (302, "/admin/"), (
                service,
                signed_in.text[:500],
            )
            home = admin.get("/admin/")
            assert home.status_code == 200, service
            assert f"Shop · {service}" in home.text
            # every admin links the other consoles where staff reach them
            for other, other_port in ADMINS.items():
                if other != service:
                    assert f"https://{domain}:{other_port}/admin/" in home.text, (service, other)
            assert admin.get("/api/products").status_code == 404, "only the admin is served on an admin port"


def _targets(stack: Stack) -> list[dict[str, Any]]:
    with stack.prometheus() as prometheus:
        active: list[dict[str, Any]] = prometheus.get("/api/v1/targets").json()["data"]["activeTargets"]
        return active


def test_prometheus_scrapes_every_started_target_and_evaluates_every_rule(stack: Stack) -> None:
    targets = poll(
        lambda: _targets(stack),
        lambda found: found and all(t["health"] == "up" for t in found),
        seconds=90,
        what="every target up",
    )
    jobs = {t["labels"]["job"] for t in targets}
    assert set(SHOP_SERVICES) <= jobs
    assert {"prometheus", "alertmanager"} <= jobs
    assert set(EXPORTERS) <= jobs

    with stack.prometheus() as prometheus:
        groups = poll(
            lambda: prometheus.get("/api/v1/rules").json()["data"]["groups"],
            lambda found: found and all(g["lastEvaluation"] != "0001-01-01T00:00:00Z" for g in found),
            seconds=60,
            what="every rule group evaluated",
        )
    # every group of every rule file the stack mounts, loaded
    assert sorted(g["name"] for g in groups) == sorted(RULE_GROUPS)
    broken = [(g["name"], r["name"], r.get("lastError")) for g in groups for r in g["rules"] if r.get("health") != "ok"]
    assert broken == []
    sys.stdout.write(
        f"\nprometheus: {len(targets)} targets up, {len(groups)} rule groups, "
        f"{sum(len(g['rules']) for g in groups)} rules\n"
    )


def _query(stack: Stack, expr: str) -> list[dict[str, Any]]:
    with stack.prometheus() as prometheus:
        body = prometheus.get("/api/v1/query", params={"query": expr}).json()
    assert body["status"] == "success", (expr, body)
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def test_the_exporters_reach_their_data_stores_and_the_data_stores_dashboard_has_data(stack: Stack) -> None:
    # given: each exporter signed in with its database owner's password (a secret file) or Redis's
    reached = poll(
        lambda: {
            r["metric"]["job"]: (r["metric"]["service"], r["value"][1]) for r in _query(stack, "pg_up or redis_up")
        },
        lambda found: set(found) == set(EXPORTERS) and all(value == "1" for _, value in found.values()),
        seconds=60,
        what="every exporter reaching its server",
    )

    # then: labelled with the data store it watches; Redis with compose's maxmemory (128 MB)
    assert {job: service for job, (service, _) in reached.items()} == EXPORTERS
    [maxmemory] = _query(stack, 'redis_memory_max_bytes{job="redis-exporter"}')
    assert float(maxmemory["value"][1]) == 128 * 1024 * 1024
    # and every query of the Data Stores dashboard answers (rates: after two scrapes, 5 s apart here)
    queries = [q for q in dashboard_queries() if q.dashboard == "shop-datastores"]
    assert len(queries) >= 15
    empty = poll(
        lambda: [f"{q.panel}: {q.expr}" for q in queries if not _query(stack, q.runnable())],
        lambda found: found == [],
        seconds=30,
        what="every Data Stores query with data",
    )
    assert empty == []


def test_stopping_a_shop_container_fires_target_down(stack: Stack) -> None:
    stack.compose("stop", STOPPED)
    stack.state["stopped_at"] = time.monotonic()

    # Prometheus sees it at its next scrape; the alert fires after the rule's `for:` (a later test waits)
    poll(
        lambda: [t for t in _targets(stack) if t["labels"]["job"] == STOPPED],
        lambda found: bool(found) and found[0]["health"] == "down",
        seconds=60,
        what=f"{STOPPED} down in Prometheus",
    )


def test_every_shop_log_line_is_json_and_one_checkout_is_traced_through_four_services(stack: Stack) -> None:
    trace_id = stack.state["checkout_trace_id"]
    assert TRACE_ID.match(trace_id)
    carrying: set[str] = set()
    for service in (*SHOP_SERVICES, "users-migrate", "products-migrate", "products-seed", "users-seed"):
        lines = stack.logs(service)
        assert lines, f"{service} logged nothing"
        for line in lines:
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                raise AssertionError(f"{service}: not JSON: {line[:300]}") from None
            assert {"event", "level", "timestamp", "service"} <= entry.keys(), (service, line[:300])
            # every access line names its request's trace
            if entry["event"] == "request_finished":
                assert TRACE_ID.match(entry.get("trace_id", "")), (service, line[:300])
            if entry.get("trace_id") == trace_id:
                carrying.add(service)
            # health probes (every 2 s here) and scrapes (every 5 s) answered well leave no access line
            if entry["event"] == "request_finished" and int(entry.get("code", 500)) < 400:
                assert not re.search(r" /(health/|metrics)", str(entry.get("request", ""))), (service, line[:300])
        # no trace backend runs here (Tempo is in the grafana profile): one warning per process, not one per batch
        failing = [line for line in lines if '"trace_export_failing"' in line]
        assert len(failing) <= 4, (service, len(failing))
    # products answers a checkout over gRPC (products-grpc), the cart over HTTP
    assert {"gateway", "orders", "products-grpc", "carts"} <= carrying, carrying


def test_docker_stats_memory_per_container(stack: Stack) -> None:
    result = stack.engine.docker("stats", "--no-stream", "--format", "{{json .}}")
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert rows
    total = 0.0
    sys.stdout.write("\nmemory per container (docker stats):\n")
    for row in sorted(rows, key=lambda r: r["Name"]):
        used = row["MemUsage"].split("/")[0].strip()
        mib = _mib(used)
        total += mib
        sys.stdout.write(f"  {row['Name']:<32} {mib:8.1f} MiB\n")
    sys.stdout.write(f"  {'total (' + str(len(rows)) + ' containers)':<32} {total:8.1f} MiB\n")
    assert total > 0


def _mib(size: str) -> float:
    units = {
        "B": 1 / 2**20,
        "KiB": 1 / 2**10,
        "MiB": 1.0,
        "GiB": 2**10.0,
        "kB": 1e3 / 2**20,
        "MB": 1e6 / 2**20,
        "GB": 1e9 / 2**20,
    }
    match = re.fullmatch(r"([\d.]+)\s*([A-Za-z]+)", size)
    assert match, size
    return float(match.group(1)) * units[match.group(2)]


def test_target_down_reaches_the_webhook_with_its_runbook_and_resolves_when_the_container_is_back(stack: Stack) -> None:
    receiver = stack.receiver
    assert receiver is not None
    # TargetDown has `for: 2m`; critical alerts wait 10 s in Alertmanager's group
    firing = poll(
        lambda: receiver.alerts("TargetDown", "firing", job=STOPPED),
        bool,
        seconds=240,
        what="TargetDown firing at the webhook",
    )
    fired_after = time.monotonic() - stack.state["stopped_at"]
    assert firing[0]["labels"]["severity"] == "critical"
    assert firing[0]["annotations"]["runbook_url"].endswith("TargetDown.md")

    # when: the container is back
    stack.compose("start", STOPPED)
    started = time.monotonic()

    # then: the alert resolves and Alertmanager says so
    poll(
        lambda: receiver.alerts("TargetDown", "resolved", job=STOPPED),
        bool,
        seconds=240,
        what="TargetDown resolved at the webhook",
    )
    sys.stdout.write(
        f"\nTargetDown: delivered {fired_after:.0f} s after the stop, "
        f"resolved {time.monotonic() - started:.0f} s after the start\n"
    )
