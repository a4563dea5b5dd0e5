"""gunicorn with shopkit's settings file and LOG_FORMAT=json: every line it and its workers write is JSON,
from "Starting gunicorn" to "Shutting down", and probes and scrapes that succeed leave no access line.

The server is real: gunicorn from the command line compose uses, serving the shared package's test
project (its platform URLs: health, metrics, admin) with two workers.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.test import Client

from shopkit.testing.server_logs import LINE_KEYS, child_env, free_port, running_server


def _gunicorn(port: int, tmp_path: Path, *, pg_base: str) -> Any:
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "django.core.wsgi:get_wsgi_application()",
        "-c",
        "python:shopkit.gunicorn_conf",
        "-b",
        f"127.0.0.1:{port}",
    ]
    environment = child_env(
        DJANGO_SETTINGS_MODULE="shopkit_tests.settings",
        LOG_FORMAT="json",
        LOG_LEVEL="INFO",
        WEB_CONCURRENCY="2",
        # A database that does not exist: readiness fails (503) while liveness answers.
        DATABASE_URL=f"{pg_base}/shop_no_such_database",
    )
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return running_server(argv, env=environment, port=port, tmp_path=tmp_path)


@pytest.fixture
def pg_base() -> str:
    from shopkit.settings import env

    return env.str("TEST_PG_BASE_URL", default="postgres://postgres@127.0.0.1:5432")


def test_gunicorn_and_its_workers_write_only_json_lines_and_no_access_lines_for_probes(
    tmp_path: Path, pg_base: str
) -> None:
    # given
    port = free_port()

    # when: probes, a scrape, a failing readiness and an unknown API path, then a stop
    with _gunicorn(port, tmp_path, pg_base=pg_base) as server:
        with httpx.Client(base_url=server.base_url, timeout=10) as client:
            statuses = {
                path: client.get(path).status_code
                for path in ("/health/live", "/health/live", "/metrics", "/health/ready", "/api/nothing-here")
            }

    # then
    assert statuses == {"/health/live": 200, "/metrics": 200, "/health/ready": 503, "/api/nothing-here": 404}
    events = server.events()
    assert all(LINE_KEYS <= set(event) for event in events), [e for e in events if not LINE_KEYS <= set(e)]
    texts = [e["event"] for e in events]
    assert texts[0].startswith("Starting gunicorn ")
    assert len([t for t in texts if t.startswith("Booting worker with pid: ")]) == 2
    assert texts[-1] == "Shutting down: Master"
    gunicorn_lines = [e for e in events if e["logger"] == "gunicorn.error"]
    # the arbiter never loads Django; its workers do
    assert {e["service"] for e in gunicorn_lines if e["event"].startswith("Worker exiting")} == {"shopkit-tests"}
    assert gunicorn_lines[0]["service"] == "shop"
    access = [(e["request"], e["code"], e["level"]) for e in events if e["event"] == "request_finished"]
    assert access == [("GET /health/ready", 503, "error"), ("GET /api/nothing-here", 404, "warning")]
    sys.stdout.write(f"\ngunicorn: {len(events)} lines, all JSON\n")


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[tuple[int, dict[str, Any]]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.msg, dict):
            self.records.append((record.levelno, dict(record.msg)))


@pytest.fixture
def access_lines() -> Iterator[list[tuple[int, dict[str, Any]]]]:
    """The access lines (level, event dict) logged during the test, DEBUG included."""
    handler = _Records()
    logger = logging.getLogger("django_structlog.middlewares.request")
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


def _finished(lines: list[tuple[int, dict[str, Any]]]) -> list[tuple[str, int, str]]:
    return [
        (e["request"], e["code"], logging.getLevelName(level)) for level, e in lines if e["event"] == "request_finished"
    ]


def test_probe_and_scrape_access_lines_are_debug_and_other_paths_keep_their_level(
    access_lines: list[tuple[int, dict[str, Any]]],
) -> None:
    # given
    client = Client()

    # when
    client.get("/health/live")
    client.get("/metrics")
    client.get("/api/nothing-here")

    # then
    assert _finished(access_lines) == [
        ("GET /health/live", 200, "DEBUG"),
        ("GET /metrics", 200, "DEBUG"),
        ("GET /api/nothing-here", 404, "WARNING"),
    ]


def test_log_quiet_paths_chooses_the_quiet_paths(access_lines: list[tuple[int, dict[str, Any]]], settings: Any) -> None:
    # given: only liveness is quiet
    settings.LOG_QUIET_PATHS = ["/health/live"]
    client = Client()

    # when
    client.get("/health/live")
    client.get("/metrics")

    # then
    assert _finished(access_lines) == [("GET /health/live", 200, "DEBUG"), ("GET /metrics", 200, "INFO")]
