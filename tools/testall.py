"""`make test`: every suite against real PostgreSQL and Redis, one after the other, then a summary.

Suites: the shared package, each service (its own Django settings, database and Redis db), the
infrastructure checks (compose, Prometheus rules, dashboards) and the end-to-end suite, which
starts every real process and speaks HTTP to the gateway only. `python -m tools.testall users e2e`
runs a subset; extra pytest arguments go after `--`. The `stack` suite (`make test-stack`: the compose
stack on a Docker engine) runs only when named.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Suite:
    name: str
    path: str
    settings: str | None = None
    database: str | None = None
    redis_db: int | None = None
    # Part of `make test` (no Docker needed); the others run only when named.
    default: bool = True


SUITES = [
    Suite("shopkit", "shopkit/tests", "shopkit_tests.settings", "shop_shopkit", 6),
    Suite("users", "user_svc/tests", "user_svc.settings", "shop_users", 1),
    Suite("products", "product_svc/tests", "product_svc.settings", "shop_products", 2),
    Suite("orders", "order_svc/tests", "order_svc.settings", "shop_orders", 3),
    Suite("carts", "cart_svc/tests", "cart_svc.settings", "shop_carts", 4),
    Suite("gateway", "gateway_svc/tests", "gateway_svc.settings", None, 5),
    Suite("infra", "tests/infra"),
    Suite("e2e", "tests/e2e"),
    # The alert contract: make run's processes, its Prometheus and Alertmanager, every fault (docs/faults.md).
    Suite("alerts", "tests/alerts"),
    Suite("stack", "tests/stack", default=False),
]


def suite_env(suite: Suite) -> dict[str, str]:
    pg = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres").rsplit("/", 1)[0]
    redis = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15").rsplit("/", 1)[0]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "shopkit")])}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    if suite.database:
        env["DATABASE_URL"] = f"{pg}/{suite.database}"
    if suite.redis_db is not None:
        env["CACHE_URL"] = f"{redis}/{suite.redis_db}"
    env["TEST_PG_BASE_URL"] = pg
    env["TEST_REDIS_BASE_URL"] = redis
    return env


def run(suite: Suite, extra: list[str]) -> tuple[int, float]:
    argv = [sys.executable, "-m", "pytest", suite.path, "-q", "-p", "no:cacheprovider", *extra]
    if suite.name == "stack":
        # Its figures (seconds, memory) are the point; its session fixture builds images and starts the stack.
        argv[argv.index("-q") + 1 : argv.index("-q") + 1] = ["-s", "-o", "timeout=1200"]
    if suite.settings:
        argv += ["--ds", suite.settings]
    started = time.monotonic()
    sys.stdout.write(f"\n=== {suite.name}: {' '.join(argv[2:])}\n")
    sys.stdout.flush()
    code = subprocess.call(argv, cwd=ROOT, env=suite_env(suite))
    return code, time.monotonic() - started


def main(argv: list[str]) -> int:
    split = argv.index("--") if "--" in argv else len(argv)
    wanted, extra = argv[:split], argv[split + 1 :]
    suites = [s for s in SUITES if s.name in wanted or (not wanted and s.default)]
    if unknown := set(wanted) - {s.name for s in SUITES}:
        sys.stderr.write(f"unknown suites: {sorted(unknown)}\n")
        return 2
    results = [(suite, *run(suite, extra)) for suite in suites]
    sys.stdout.write("\n=== summary\n")
    for suite, code, seconds in results:
        verdict = "passed" if code == 0 else f"FAILED (exit {code})"
        sys.stdout.write(f"  {suite.name:<10} {verdict:<18} {seconds:6.1f} s\n")
    return 0 if all(code == 0 for _, code, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
