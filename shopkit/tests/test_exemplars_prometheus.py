"""Debian's Prometheus (exemplar storage on) scraping shopkit's two kinds of metrics endpoint over OpenMetrics:
a worker's own server (relays, consumers, the gRPC server) and the gunicorn services' merged view."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

import httpx
import pytest
from opentelemetry import trace
from prometheus_client.core import Metric
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families as text_families

from shopkit.events.metrics import consumer_metrics, relay_metrics, serve_metrics
from shopkit.testing.exemplars import PROMETHEUS_ACCEPT, running_prometheus, stored_exemplars, targets_up
from shopkit.testing.server_logs import child_env, free_port, running_server


def _series(families: Iterable[Metric]) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    """Every sample's name and labels: what a query can select."""
    return {(s.name, tuple(sorted(s.labels.items()))) for f in families for s in f.samples}


def test_a_workers_metrics_server_gives_prometheus_the_event_handling_exemplar(tmp_path: Path) -> None:
    # given: a consumer's and a relay's metrics on the worker's own server, one handling observed in a trace
    relay_metrics()
    handling = consumer_metrics().handling_seconds
    topic = f"test.{uuid.uuid4().hex[:8]}"
    with trace.get_tracer("test").start_as_current_span("shop.orders process") as span:
        handling.labels(topic=topic, consumer="carts", outcome="processed").observe(0.03)
    trace_id = format(span.get_span_context().trace_id, "032x")
    port = free_port()
    server = serve_metrics(port)
    assert server is not None
    try:
        # when: Prometheus scrapes it
        with running_prometheus([f"127.0.0.1:{port}"], tmp_path) as prometheus:
            selector = f'shop_event_handling_seconds_bucket{{topic="{topic}"}}'
            deadline = time.monotonic() + 30
            while not (found := stored_exemplars(prometheus, selector)):
                assert time.monotonic() < deadline, targets_up(prometheus)
                time.sleep(0.2)
            health = targets_up(prometheus)
    finally:
        server.shutdown()
        server.server_close()

    # then: one exemplar, on the 0.05 bucket, naming the trace
    assert health == {f"127.0.0.1:{port}": "up"}
    [series] = found
    assert series["seriesLabels"]["le"] == "0.05"
    assert [(e["labels"], float(e["value"])) for e in series["exemplars"]] == [({"trace_id": trace_id}, 0.03)]


@pytest.fixture
def pg_base() -> str:
    from shopkit.settings import env

    return env.str("TEST_PG_BASE_URL", default="postgres://postgres@127.0.0.1:5432")


def test_gunicorns_merged_metrics_are_scraped_as_openmetrics_with_the_same_series(tmp_path: Path, pg_base: str) -> None:
    # given: the test project under gunicorn as compose runs a service: two workers, one metrics directory
    port = free_port()
    metrics_dir = tmp_path / "prometheus-multiproc"
    metrics_dir.mkdir()
    argv = [sys.executable, "-m", "gunicorn", "django.core.wsgi:get_wsgi_application()"]
    argv += ["-c", "python:shopkit.gunicorn_conf", "-b", f"127.0.0.1:{port}"]
    env = child_env(
        DJANGO_SETTINGS_MODULE="shopkit_tests.settings",
        WEB_CONCURRENCY="2",
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        DATABASE_URL=f"{pg_base}/shop_no_such_database",
        OTEL_EXPORTER_OTLP_ENDPOINT="",
    )
    with running_server(argv, env=env, port=port, tmp_path=tmp_path) as server:
        with httpx.Client(base_url=server.base_url, timeout=10) as client:
            for path in ("/health/live", "/api/nothing-here", "/health/ready"):
                client.get(path)

            # when: Prometheus scrapes it, and we ask in both formats
            with running_prometheus([f"127.0.0.1:{port}"], tmp_path) as prometheus:
                deadline = time.monotonic() + 30
                # Until the first scrape ended: no target yet (Prometheus applies targets after ~5 s), or "unknown".
                while not (health := targets_up(prometheus)) or "unknown" in health.values():
                    assert time.monotonic() < deadline, health
                    time.sleep(0.2)
            openmetrics = client.get("/metrics", headers={"Accept": PROMETHEUS_ACCEPT})
            text = client.get("/metrics")

    # then: Prometheus parsed the OpenMetrics answer; it names exactly the series the text format does
    assert health == {f"127.0.0.1:{port}": "up"}
    assert openmetrics.headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    assert text.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    om_series = _series(openmetrics_families(openmetrics.text))
    assert om_series == _series(text_families(text.text))
    assert (
        "django_http_responses_total_by_status_view_method_total",
        (("method", "GET"), ("status", "404"), ("view", "<unnamed view>")),
    ) in om_series
