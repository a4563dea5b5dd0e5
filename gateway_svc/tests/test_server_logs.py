"""uvicorn serving the gateway as compose starts it, plus `--log-config` shopkit's file: every line is JSON.

A real uvicorn with two workers (its parent process never loads Django), LOG_FORMAT=json, downstream
services that do not answer (readiness fails), asked over HTTP and stopped with SIGTERM.
"""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import yaml

from shopkit.logging import UVICORN_LOG_CONFIG
from shopkit.settings import REPO_ROOT
from shopkit.testing.server_logs import LINE_KEYS, child_env, free_port, running_server


def _compose_command(port: int) -> list[str]:
    """compose's gateway command, as written there, on 127.0.0.1:`port` with this checkout's log configuration."""
    compose = yaml.safe_load((REPO_ROOT / "compose" / "docker-compose.yml").read_text())
    command = list(compose["services"]["gateway"]["command"])
    assert command[0] == "uvicorn"
    for flag, value in {"--host": "127.0.0.1", "--port": str(port), "--log-config": str(UVICORN_LOG_CONFIG)}.items():
        command[command.index(flag) + 1] = value
    return [sys.executable, "-m", *command]


def test_uvicorn_with_shopkit_log_config_writes_only_json_lines(tmp_path: Path) -> None:
    # given: compose's command line, on a free port, with the log configuration
    port, nobody = free_port(), f"http://127.0.0.1:{free_port()}"
    argv = _compose_command(port)
    assert argv[argv.index("--workers") + 1] == "2"  # what the assertions below count
    env = child_env(
        DJANGO_SETTINGS_MODULE="gateway_svc.settings",
        LOG_FORMAT="json",
        LOG_LEVEL="INFO",
        CACHE_URL="locmem://",
        USERS_URL=nobody,
        PRODUCTS_URL=nobody,
        ORDERS_URL=nobody,
        CARTS_URL=nobody,
        PRODUCTS_GRPC_TARGET="127.0.0.1:1",
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)

    # when
    with running_server(argv, env=env, port=port, tmp_path=tmp_path) as server:
        with httpx.Client(base_url=server.base_url, timeout=10) as client:
            statuses = {
                path: client.get(path).status_code
                for path in ("/health/live", "/metrics", "/health/ready", "/api/nothing-here")
            }

    # then
    assert statuses == {"/health/live": 200, "/metrics": 200, "/health/ready": 503, "/api/nothing-here": 404}
    events = server.events()
    assert all(LINE_KEYS <= set(event) for event in events), [e for e in events if not LINE_KEYS <= set(e)]
    texts = [e["event"] for e in events]
    assert texts[0].startswith("Uvicorn running on http://127.0.0.1:")
    assert len([t for t in texts if t.startswith("Started server process")]) == 2
    assert len([t for t in texts if t == "Waiting for application startup."]) == 2
    assert texts[-1].startswith("Stopping parent process")
    starts = [e for e in events if e["event"].startswith("Started ")]
    # the parent process never loads Django; the workers do
    assert {e["service"] for e in starts} == {"shop", "gateway"}
    access = [(e["request"], e["code"]) for e in events if e["event"] == "request_finished"]
    assert access == [("GET /health/ready", 503), ("GET /api/nothing-here", 404)]
    sys.stdout.write(f"\nuvicorn: {len(events)} lines, all JSON\n")
