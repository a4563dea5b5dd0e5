"""`make bench`: Shop measured against its own limits, each pair side by side in one run.

It starts what it measures itself: the same processes, servers and settings as `make run` (in its own
data directory, `var/bench-<stores>/`), plus, for the two rows that compare settings, extra products
servers that differ from the real one in one setting only. Every pair is measured one after the other,
alternating, `--repeats` times; the table shows medians. Load comes from wrk (HTTP throughput and
latency) and from an asyncio client of real customers (checkout, events). Nothing asserts a time: the
table says which targets hold, and it is written to docs/BENCHMARKS.md with the machine's description.

    make bench                                  # embedded stores (SQLite, local-memory cache), as `make run`
    make bench BENCH_ARGS="--stores postgres"   # PostgreSQL and Redis, as the full stack
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psutil

from tools.shoprun import DOMAIN_SERVICES, GATEWAY_PORT, ROOT, Stack

RESULTS = ROOT / "docs" / "BENCHMARKS.md"
PG_BASE = os.environ.get("TEST_PG_BASE_URL", "postgres://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")
GATEWAY = f"http://127.0.0.1:{GATEWAY_PORT}"
PRODUCTS = f"http://127.0.0.1:{DOMAIN_SERVICES['products'][1]}"
STAFF = (
    os.environ.get("SHOP_DEMO_STAFF_EMAIL", "staff@example.com"),
    os.environ.get("SHOP_DEMO_STAFF_PASSWORD", "staff-demo-pass"),
)
# Extra products servers (same code, same workers, same database) that differ in one setting.
NO_CACHE_PORT, OBS_ON_PORT, OBS_OFF_PORT = 5101, 5102, 5103
CUSTOMERS = 20
STORES = {
    "embedded": "SQLite, local-memory cache, as `make run`",
    "postgres": "PostgreSQL and Redis, as the full stack",
}


def say(message: str) -> None:
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


# -- load tools ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int = 0


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * _UNITS[unit]


def wrk(url: str, *, seconds: int, connections: int, threads: int = 2) -> Load:
    """One wrk run; non-2xx answers are counted as errors (a benchmark of errors measures nothing)."""
    out = subprocess.run(  # noqa: S603 - wrk, our own arguments
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 30,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    count = int(errors.group(1)) if errors else 0
    count += sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    return Load(rps, p50, p99, count)


def side_by_side(measured: Callable[[], Load], reference: Callable[[], Load], repeats: int) -> tuple[Load, Load]:
    """Alternate the two measurements `repeats` times; each figure is the median of its runs."""
    runs: tuple[list[Load], list[Load]] = ([], [])
    for _ in range(repeats):
        runs[0].append(measured())
        runs[1].append(reference())
    return _median(runs[0]), _median(runs[1])


def _median(loads: list[Load]) -> Load:
    return Load(
        statistics.median(load.rps for load in loads),
        statistics.median(load.p50_ms for load in loads),
        statistics.median(load.p99_ms for load in loads),
        sum(load.errors for load in loads),
    )


# -- processes ---------------------------------------------------------------------------------------
class OtlpSink:
    """Accepts OTLP/HTTP exports and drops them, as a collector on another machine would cost us nothing."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@dataclass
class Extra:
    """A products server beside the real one, differing in `env` only."""

    name: str
    port: int
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None


def start_extras(stack: Stack, extras: list[Extra]) -> None:
    for extra in extras:
        prom_dir = stack.var_dir / "prometheus" / extra.name
        shutil.rmtree(prom_dir, ignore_errors=True)
        prom_dir.mkdir(parents=True)
        env = {
            **stack.service_env("products"),
            "WEB_CONCURRENCY": stack.base_env.get("WEB_CONCURRENCY", "1"),  # the same workers as `make run`
            "PROMETHEUS_MULTIPROC_DIR": str(prom_dir),
            **extra.env,
        }
        env = {k: v for k, v in env.items() if v != ""}
        argv = [sys.executable, "-m", "gunicorn", "product_svc.wsgi:application", "-c", "python:shopkit.gunicorn_conf"]
        log = (stack.log_dir / f"{extra.name}.log").open("wb")
        extra.proc = subprocess.Popen(  # noqa: S603 - our own server
            [*argv, "-b", f"127.0.0.1:{extra.port}"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 60
    for extra in extras:
        while not _ok(f"http://127.0.0.1:{extra.port}/health/ready"):
            if time.monotonic() > deadline or (extra.proc and extra.proc.poll() is not None):
                raise RuntimeError(f"{extra.name} did not become healthy; see {stack.log_dir}/{extra.name}.log")
            time.sleep(0.2)


def stop_extras(extras: list[Extra]) -> None:
    for extra in extras:
        if extra.proc and extra.proc.poll() is None:
            extra.proc.terminate()
    for extra in extras:
        if extra.proc:
            with contextlib.suppress(subprocess.TimeoutExpired):
                extra.proc.wait(15)
            if extra.proc.poll() is None:
                extra.proc.kill()


def _ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own http URL
            return bool(response.status == 200)
    except OSError:
        return False


class Footprint:
    """Total RSS of the shop's processes (and their children, e.g. gunicorn workers), sampled."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def now(self) -> int:
        total = 0
        for proc in self.stack.processes:
            if proc.popen is None:
                continue
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(proc.popen.pid)
                for p in [root, *root.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        total += p.memory_info().rss
        return total

    @contextlib.contextmanager
    def sampling(self) -> Iterator[None]:
        def loop() -> None:
            while not self._stop.wait(0.5):
                self.peak = max(self.peak, self.now())

        self._stop.clear()
        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()
        try:
            yield
        finally:
            self._stop.set()
            self._thread.join()


# -- customers ---------------------------------------------------------------------------------------
@dataclass
class Customers:
    tokens: list[str]
    products: list[str]
    staff_token: str


async def make_customers(count: int) -> Customers:
    async with httpx.AsyncClient(base_url=GATEWAY, timeout=30) as client:
        staff = await client.post("/api/auth/login", json={"email": STAFF[0], "password": STAFF[1]})
        staff.raise_for_status()
        staff_token = staff.json()["access"]
        page = await client.get("/api/products", params={"page_size": 20, "in_stock": "true"})
        page.raise_for_status()
        products = [item["id"] for item in page.json()["items"]]
        # Enough stock that the benchmark never measures "sold out".
        for product_id in products:
            patched = await client.patch(
                f"/api/products/{product_id}",
                json={"stock_on_hand": 1_000_000},
                headers={"Authorization": f"Bearer {staff_token}"},
            )
            patched.raise_for_status()

        async def register(i: int) -> str:
            email = f"bench-{uuid.uuid4().hex[:10]}-{i}@example.com"
            password = f"bench-pass-{uuid.uuid4().hex}"
            registered = await client.post("/api/auth/register", json={"email": email, "password": password})
            registered.raise_for_status()
            tokens = await client.post("/api/auth/login", json={"email": email, "password": password})
            tokens.raise_for_status()
            return str(tokens.json()["access"])

        tokens = [await register(i) for i in range(count)]
        return Customers(tokens, products, staff_token)


@dataclass
class Journeys:
    latencies_ms: list[float] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)

    def fail(self, reason: str) -> None:
        self.failures[reason] = self.failures.get(reason, 0) + 1


async def checkouts(customers: Customers, seconds: float) -> tuple[float, Journeys]:
    """Each customer adds a product and checks out, again and again; returns checkouts/s and latencies."""
    result = Journeys()
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=len(customers.tokens) * 2)

    async with httpx.AsyncClient(base_url=GATEWAY, timeout=30, limits=limits) as client:

        async def customer(i: int, token: str) -> None:
            auth = {"Authorization": f"Bearer {token}"}
            n = 0
            while time.monotonic() < deadline:
                product = customers.products[(i + n) % len(customers.products)]
                n += 1
                added = await client.post("/api/cart/items", json={"product_id": product, "quantity": 1}, headers=auth)
                if added.status_code != 200:
                    result.fail(f"add {added.status_code}")
                    continue
                started = time.perf_counter()
                order = await client.post(
                    "/api/orders", headers={**auth, "Idempotency-Key": str(uuid.uuid4())}, json={}
                )
                elapsed = (time.perf_counter() - started) * 1000
                if order.status_code in (200, 201):
                    result.latencies_ms.append(elapsed)
                else:
                    result.fail(f"checkout {order.status_code}")

        started = time.monotonic()
        await asyncio.gather(*(customer(i, t) for i, t in enumerate(customers.tokens)))
        took = time.monotonic() - started
    return len(result.latencies_ms) / took, result


async def product_reads(customers: Customers, seconds: float) -> tuple[float, Journeys]:
    """The same customers, the same client, reading product details: the checkout row's reference."""
    result = Journeys()
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=len(customers.tokens) * 2)
    async with httpx.AsyncClient(base_url=GATEWAY, timeout=30, limits=limits) as client:

        async def customer(i: int, token: str) -> None:
            n = 0
            while time.monotonic() < deadline:
                product = customers.products[(i + n) % len(customers.products)]
                n += 1
                started = time.perf_counter()
                response = await client.get(f"/api/products/{product}", headers={"Authorization": f"Bearer {token}"})
                if response.status_code == 200:
                    result.latencies_ms.append((time.perf_counter() - started) * 1000)
                else:
                    result.fail(f"read {response.status_code}")

        started = time.monotonic()
        await asyncio.gather(*(customer(i, t) for i, t in enumerate(customers.tokens)))
        took = time.monotonic() - started
    return len(result.latencies_ms) / took, result


async def event_delays(customers: Customers, orders: int) -> list[float]:
    """Order confirmed (the checkout's answer) -> the carts consumer has emptied the cart, in ms."""
    delays: list[float] = []
    auth = {"Authorization": f"Bearer {customers.tokens[0]}"}
    warm_up = 3  # the first events after start pay for metadata and connections: not measured
    async with httpx.AsyncClient(base_url=GATEWAY, timeout=30) as client:
        for n in range(-warm_up, orders):
            product = customers.products[n % len(customers.products)]
            (
                await client.post("/api/cart/items", json={"product_id": product, "quantity": 1}, headers=auth)
            ).raise_for_status()
            order = await client.post("/api/orders", headers={**auth, "Idempotency-Key": str(uuid.uuid4())}, json={})
            order.raise_for_status()
            confirmed = time.perf_counter()
            while time.perf_counter() - confirmed < 30:
                cart = await client.get("/api/cart", headers=auth)
                if cart.status_code == 200 and not cart.json()["lines"]:
                    if n >= 0:
                        delays.append((time.perf_counter() - confirmed) * 1000)
                    break
                await asyncio.sleep(0.005)
            else:
                raise RuntimeError("the cart was not emptied within 30 s of its order's confirmation")
            await asyncio.sleep(0.05)
    return delays


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else float("nan")


# -- the table ---------------------------------------------------------------------------------------
@dataclass
class Row:
    name: str
    measured: str
    reference: str
    ratio: str
    target: str
    holds: bool | None

    @property
    def verdict(self) -> str:
        return {True: "holds", False: "MISSED", None: "-"}[self.holds]


def table(rows: list[Row]) -> str:
    lines = [
        "| row | measured | reference, same run | ratio | target | verdict |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {r.name} | {r.measured} | {r.reference} | {r.ratio} | {r.target} | {r.verdict} |" for r in rows]
    return "\n".join(lines)


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = psutil.virtual_memory().total / 2**30
    return (
        f"{platform.system()} {platform.release()}, {os.cpu_count()} cores ({cpu}), {memory:.0f} GiB RAM, "
        f"Python {platform.python_version()}"
    )


def write_results(stores: str, body: str) -> None:
    """docs/BENCHMARKS.md keeps one section per store setting; this run replaces its own."""
    start, end = f"<!-- bench:{stores}:start -->", f"<!-- bench:{stores}:end -->"
    section = f"{start}\n{body}\n{end}"
    text = RESULTS.read_text() if RESULTS.exists() else ""
    if start in text and end in text:
        text = text[: text.index(start)] + section + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    RESULTS.write_text(text)


# -- the run -----------------------------------------------------------------------------------------
def bench_environ(stores: str, var_dir: Path) -> dict[str, str]:
    environ = {
        **os.environ,
        # Limits a real client population never shares one address with; the bench is one address.
        "RATE_LIMIT_LOGIN": "1000000/m",
        "RATE_LIMIT_LOGIN_ACCOUNT": "1000000/m",
        "RATE_LIMIT_REGISTER": "1000000/m",
        "RATE_LIMIT_REFRESH": "1000000/m",
        "RATE_LIMIT_CHECKOUT": "1000000/m",
        "RATE_LIMIT_DEFAULT": "100000000/m",
        "SHOP_BENCH_ENDPOINTS": "true",
        "SHOP_VAR_DIR": str(var_dir),
    }
    environ.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    if stores == "postgres":
        import psycopg

        with psycopg.connect(f"{PG_BASE}/postgres", autocommit=True) as conn:
            for name in DOMAIN_SERVICES:
                conn.execute(f'DROP DATABASE IF EXISTS "shop_bench_{name}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "shop_bench_{name}"')
        for name in DOMAIN_SERVICES:
            environ[f"SHOP_{name.upper()}_DATABASE_URL"] = f"{PG_BASE}/shop_bench_{name}"
        environ["CACHE_URL"] = REDIS_URL
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()
    return environ


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stores", choices=["embedded", "postgres"], default="embedded")
    parser.add_argument("--seconds", type=int, default=5, help="length of one wrk measurement")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure (the median is reported)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--checkout-seconds", type=float, default=15.0)
    parser.add_argument("--events", type=int, default=40, help="orders timed from confirmation to empty cart")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        sys.stderr.write("wrk is needed (Debian/Ubuntu: apt-get install wrk)\n")
        return 2

    var_dir = ROOT / "var" / f"bench-{args.stores}"
    shutil.rmtree(var_dir, ignore_errors=True)
    environ = bench_environ(args.stores, var_dir)
    say(f"Shop benchmarks ({args.stores} stores) on {machine()}")

    # start: a first `make run` (migrations, demo data), stopped; then the second, timed.
    first = Stack(environ=environ, stream=False, var_dir=var_dir)
    first.prepare()
    with first.running():
        pass
    started = time.monotonic()
    stack = Stack(environ=environ, stream=False, var_dir=var_dir)
    rows: list[Row] = []
    sink = OtlpSink()
    extras = [
        Extra("products-nocache", NO_CACHE_PORT, {"CACHE_URL": "dummy://"}),
        Extra(
            "products-obs-on",
            OBS_ON_PORT,
            {"OTEL_TRACES_SAMPLER_ARG": "1.0", "OTEL_EXPORTER_OTLP_ENDPOINT": sink.endpoint, "LOG_FORMAT": "json"},
        ),
        Extra(
            "products-obs-off",
            OBS_OFF_PORT,
            {"SHOP_TRACING_ENABLED": "false", "SHOP_METRICS_ENABLED": "false", "LOG_LEVEL": "WARNING"},
        ),
    ]
    try:
        stack.prepare()
        stack.start()
        stack.wait_healthy()
        start_seconds = time.monotonic() - started
        say(f"second start to all healthy: {start_seconds:.1f} s")
        footprint = Footprint(stack)
        time.sleep(3)
        idle_rss = footprint.now()
        start_extras(stack, extras)
        rows += measure(args, stack, footprint)
        rows.append(
            Row(
                "footprint",
                f"idle {idle_rss / 2**20:.0f} MB, under load {footprint.peak / 2**20:.0f} MB",
                f"{len(stack.processes)} processes and their gunicorn workers",
                "-",
                "<= 800 MB under load",
                footprint.peak <= 800 * 2**20,
            )
        )
        rows.append(
            Row(
                "start",
                f"{start_seconds:.1f} s",
                "second `make run` to all healthy",
                "-",
                "<= 15 s",
                start_seconds <= 15,
            )
        )
    finally:
        stop_extras(extras)
        stack.stop()
        sink.close()

    result = table(rows)
    say("\n" + result)
    body = (
        f"## {args.stores} stores\n\n"
        f"Run on {time.strftime('%Y-%m-%d')}: {machine()}. `make bench` with "
        f"`--stores {args.stores}` ({STORES[args.stores]}); "
        f"wrk {args.connections} connections x {args.seconds} s, median of {args.repeats} alternating runs; "
        f"checkout {CUSTOMERS} customers x {args.checkout_seconds:.0f} s, median of {args.repeats} runs.\n\n{result}"
    )
    write_results(args.stores, body)
    say(f"\nwritten to {RESULTS.relative_to(ROOT)}")
    return 0


def measure(args: argparse.Namespace, stack: Stack, footprint: Footprint) -> list[Row]:
    rows: list[Row] = []
    customers = asyncio.run(make_customers(CUSTOMERS))
    product = customers.products[0]

    def run(url: str) -> Callable[[], Load]:
        return lambda: wrk(url, seconds=args.seconds, connections=args.connections)

    with footprint.sampling():
        # Warm every path (caches, connection pools, imports) before anything is measured.
        for url in (
            f"{GATEWAY}/api/products/{product}",
            f"{PRODUCTS}/api/products/{product}",
            f"{PRODUCTS}/_bench/constant",
            f"{PRODUCTS}/api/products",
            f"http://127.0.0.1:{NO_CACHE_PORT}/api/products",
            f"http://127.0.0.1:{OBS_ON_PORT}/api/products/{product}",
            f"http://127.0.0.1:{OBS_OFF_PORT}/api/products/{product}",
        ):
            wrk(url, seconds=2, connections=8)

        say("gateway hop ...")
        hop, direct = side_by_side(
            run(f"{GATEWAY}/api/products/{product}"), run(f"{PRODUCTS}/api/products/{product}"), args.repeats
        )
        p50_ratio, rps_ratio = hop.p50_ms / direct.p50_ms, hop.rps / direct.rps
        rows.append(
            Row(
                "gateway hop",
                f"p50 {hop.p50_ms:.1f} ms, {hop.rps:.0f} RPS (`GET /api/products/{{id}}` via gateway)",
                f"p50 {direct.p50_ms:.1f} ms, {direct.rps:.0f} RPS (straight to products)",
                f"p50 x{p50_ratio:.2f}, RPS x{rps_ratio:.2f}",
                "p50 <= 1.5, RPS >= 0.6",
                p50_ratio <= 1.5 and rps_ratio >= 0.6 and not (hop.errors or direct.errors),
            )
        )

        def rps_row(name: str, measured: tuple[str, str], reference: tuple[str, str], minimum: float) -> Row:
            """A row whose figure is the RPS of `measured` over that of `reference` (URL, description)."""
            say(f"{name} ...")
            ours, theirs = side_by_side(run(measured[0]), run(reference[0]), args.repeats)
            ratio = ours.rps / theirs.rps
            return Row(
                name,
                f"{ours.rps:.0f} RPS ({measured[1]})",
                f"{theirs.rps:.0f} RPS ({reference[1]})",
                f"x{ratio:.2f}",
                f">= {minimum:g}" + ("x" if minimum > 1 else ""),
                ratio >= minimum and not (ours.errors or theirs.errors),
            )

        rows.append(
            rps_row(
                "framework cost",
                (f"{PRODUCTS}/api/products/{product}", "cached product detail"),
                (f"{PRODUCTS}/_bench/constant", "constant JSON, same server"),
                0.7,
            )
        )
        rows.append(
            rps_row(
                "cache",
                (f"{PRODUCTS}/api/products?page=2", "catalog page, cache on"),
                (f"http://127.0.0.1:{NO_CACHE_PORT}/api/products?page=2", "same page, cache off"),
                3,
            )
        )
        rows.append(
            rps_row(
                "observability cost",
                (
                    f"http://127.0.0.1:{OBS_ON_PORT}/api/products/{product}",
                    "tracing 100% exported over OTLP, metrics, JSON logs",
                ),
                (f"http://127.0.0.1:{OBS_OFF_PORT}/api/products/{product}", "all three off"),
                0.85,
            )
        )

        say("checkout ...")
        runs: list[tuple[float, Journeys, float, Journeys]] = []
        for _ in range(args.repeats):
            rate, journeys = asyncio.run(checkouts(customers, args.checkout_seconds))
            reads, read_journeys = asyncio.run(product_reads(customers, args.checkout_seconds))
            runs.append((rate, journeys, reads, read_journeys))
        rate = statistics.median(r[0] for r in runs)
        reads = statistics.median(r[2] for r in runs)
        p50 = statistics.median(percentile(r[1].latencies_ms, 50) for r in runs)
        p99 = statistics.median(percentile(r[1].latencies_ms, 99) for r in runs)
        reads_p99 = statistics.median(percentile(r[3].latencies_ms, 99) for r in runs)
        failed: dict[str, int] = {}
        for run_ in runs:
            for reason, count in run_[1].failures.items():
                failed[reason] = failed.get(reason, 0) + count
        failures = ", ".join(f"{k}: {v}" for k, v in sorted(failed.items())) or "none"
        rows.append(
            Row(
                "checkout",
                f"{rate:.1f} checkouts/s, p50 {p50:.0f} ms, p99 {p99:.0f} ms "
                f"at {CUSTOMERS} customers (failures: {failures})",
                f"{reads:.0f} product reads/s, p99 {reads_p99:.0f} ms at {CUSTOMERS}",
                f"x{rate / reads:.3f}",
                "p99 <= 250 ms",
                p99 <= 250 and not failed,
            )
        )

    say("events ...")
    delays = asyncio.run(event_delays(customers, args.events))
    p99 = percentile(delays, 99)
    rows.append(
        Row(
            "events",
            f"order confirmed -> cart emptied: p50 {percentile(delays, 50):.0f} ms, p99 {p99:.0f} ms "
            f"({len(delays)} orders)",
            "-",
            "-",
            "p99 <= 1 s",
            p99 <= 1000,
        )
    )
    return rows


if __name__ == "__main__":
    sys.exit(main())
