"""`make bench`: Shop measured against its own limits, each pair side by side in one run.

It starts what it measures itself: the same processes, servers and settings as `make run` (in its own
data directory, `var/bench-<stores>/`), plus, for the two rows that compare settings, extra products
servers that differ from the real one in one setting only. Every pair is measured one after the other,
alternating, `--repeats` times; the table shows medians. Load comes from wrk (HTTP throughput and
latency) and from an asyncio client of real customers (checkout, events). Nothing asserts a time: the
table says which targets hold, and it is written to docs/BENCHMARKS.md with the machine's description.

    make bench                                  # embedded stores (SQLite, local-memory cache), as `make run`
    make bench BENCH_ARGS="--stores postgres"   # PostgreSQL and Redis, as the full stack

The run is here; its parts are modules of their own: bench.load (wrk, side by side), bench.journeys
(customers through the gateway), bench.servers (what runs beside the shop) and bench.report (the table).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench.journeys import (
    CUSTOMERS,
    GATEWAY,
    Journeys,
    checkouts,
    event_delays,
    make_customers,
    percentile,
    product_reads,
)
from bench.load import Load, side_by_side, wrk
from bench.report import RESULTS, Row, machine, table, write_results
from bench.servers import Extra, Footprint, OtlpSink, start_extras, stop_extras
from shopkit.ports import Ports
from tools.shoprun import DOMAIN_SERVICES, ROOT, Stack

PRODUCTS = Ports.from_env().url("products")
PG_BASE = os.environ.get("TEST_PG_BASE_URL", "postgres://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")
STORES = {
    "embedded": "SQLite, local-memory cache, as `make run`",
    "postgres": "PostgreSQL and Redis, as the full stack",
}


def say(message: str) -> None:
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


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
        Extra("products-nocache", {"CACHE_URL": "dummy://"}),
        Extra(
            "products-obs-on",
            {"OTEL_TRACES_SAMPLER_ARG": "1.0", "OTEL_EXPORTER_OTLP_ENDPOINT": sink.endpoint, "LOG_FORMAT": "json"},
        ),
        Extra(
            "products-obs-off",
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
        rows += measure(args, stack, footprint, extras)
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


def measure(args: argparse.Namespace, stack: Stack, footprint: Footprint, extras: list[Extra]) -> list[Row]:
    rows: list[Row] = []
    no_cache, obs_on, obs_off = (extra.url for extra in extras)
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
            f"{no_cache}/api/products",
            f"{obs_on}/api/products/{product}",
            f"{obs_off}/api/products/{product}",
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
                (f"{no_cache}/api/products?page=2", "same page, cache off"),
                3,
            )
        )
        rows.append(
            rps_row(
                "observability cost",
                (
                    f"{obs_on}/api/products/{product}",
                    "tracing 100% exported over OTLP, metrics, JSON logs",
                ),
                (f"{obs_off}/api/products/{product}", "all three off"),
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
