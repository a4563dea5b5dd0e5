"""Trace ids as exemplars: /metrics negotiation (OpenMetrics when asked, text otherwise), only sampled spans,
and the gRPC and event-handling latencies observed inside a real call and a real consumer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from prometheus_client import REGISTRY
from prometheus_client.core import Metric
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families as text_families

from shopkit.events.consumer import ConsumerCommand, Event
from shopkit.events.services import outbox_event_emit
from shopkit.grpc.products import products_client, reset_products_client
from shopkit.metrics import TracedHistogram
from shopkit.testing.exemplars import PROMETHEUS_ACCEPT, exemplar_trace_ids
from shopkit.testing.fake_products import FakeProducts
from shopkit.testing.grpc_tls import GrpcTestPki

OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=underscores"
TEXT = "text/plain; version=0.0.4; charset=utf-8"


@pytest.fixture
def histogram() -> Iterator[TracedHistogram]:
    """A latency histogram of this test alone, in the registry /metrics serves."""
    metric = TracedHistogram(
        f"shop_test_{uuid.uuid4().hex[:8]}_seconds", "A test latency.", ["route"], buckets=(0.1, 1.0)
    )
    yield metric
    REGISTRY.unregister(metric)


def _trace_id(span: trace.Span) -> str:
    return format(span.get_span_context().trace_id, "032x")


def _bucket_lines(body: str, name: str) -> list[str]:
    return [line for line in body.splitlines() if line.startswith(f"{name}_bucket{{")]


def test_metrics_view_answers_openmetrics_with_the_trace_id_when_prometheus_asks(
    client: Client, histogram: TracedHistogram
) -> None:
    # given: one observation inside a sampled span
    with trace.get_tracer("test").start_as_current_span("request") as span:
        histogram.labels(route="cart").observe(0.25)

    # when: asked as Prometheus asks
    response = client.get("/metrics", headers={"Accept": PROMETHEUS_ACCEPT})

    # then: the 1 s bucket (where 0.25 falls) names the trace; the others have no exemplar
    assert response.status_code == 200
    assert response["Content-Type"] == OPENMETRICS
    body = response.content.decode()
    assert body.endswith("# EOF\n")
    lines = _bucket_lines(body, histogram._name)
    assert lines[0] == f'{histogram._name}_bucket{{le="0.1",route="cart"}} 0.0'
    assert lines[1].startswith(
        f'{histogram._name}_bucket{{le="1.0",route="cart"}} 1.0 # {{trace_id="{_trace_id(span)}"}} 0.25 '
    )
    assert lines[2] == f'{histogram._name}_bucket{{le="+Inf",route="cart"}} 1.0'


def test_metrics_view_answers_the_text_format_without_exemplars_otherwise(
    client: Client, histogram: TracedHistogram
) -> None:
    # given
    with trace.get_tracer("test").start_as_current_span("request"):
        histogram.labels(route="cart").observe(0.25)

    # when: no Accept header, and a browser's
    plain = client.get("/metrics")
    browser = client.get("/metrics", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})

    # then
    for response in (plain, browser):
        assert response["Content-Type"] == TEXT
        assert _bucket_lines(response.content.decode(), histogram._name) == [
            f'{histogram._name}_bucket{{le="0.1",route="cart"}} 0.0',
            f'{histogram._name}_bucket{{le="1.0",route="cart"}} 1.0',
            f'{histogram._name}_bucket{{le="+Inf",route="cart"}} 1.0',
        ]


def test_an_observation_without_a_sampled_span_has_no_exemplar(client: Client, histogram: TracedHistogram) -> None:
    # given: one outside any span, one in a trace the caller did not sample
    histogram.labels(route="none").observe(0.05)
    unsampled = SpanContext(trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736, span_id=0xB7AD6B7169203331, is_remote=True)
    assert unsampled.trace_flags == TraceFlags.DEFAULT
    with trace.use_span(NonRecordingSpan(unsampled)):
        histogram.labels(route="unsampled").observe(0.05)

    # when
    body = client.get("/metrics", headers={"Accept": PROMETHEUS_ACCEPT}).content.decode()

    # then
    assert f'{histogram._name}_bucket{{le="0.1",route="none"}} 1.0' in body.splitlines()
    assert f'{histogram._name}_bucket{{le="0.1",route="unsampled"}} 1.0' in body.splitlines()
    assert exemplar_trace_ids(f"{histogram._name}_bucket", {}) == []


def test_both_formats_expose_the_same_series(client: Client, histogram: TracedHistogram) -> None:
    # given: dashboards and rules were written against the text format; OpenMetrics must not rename anything
    with trace.get_tracer("test").start_as_current_span("request"):
        histogram.labels(route="cart").observe(0.25)

    # when
    text = client.get("/metrics").content.decode()
    openmetrics = client.get("/metrics", headers={"Accept": PROMETHEUS_ACCEPT}).content.decode()

    # then
    def series(families: Iterable[Metric]) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
        return {(s.name, tuple(sorted(s.labels.items()))) for f in families for s in f.samples}

    text_series, openmetrics_series = series(text_families(text)), series(openmetrics_families(openmetrics))
    assert text_series == openmetrics_series
    assert (f"{histogram._name}_bucket", (("le", "1.0"), ("route", "cart"))) in openmetrics_series


def test_grpc_client_and_server_latencies_carry_the_callers_trace(
    settings: Any, grpc_pki: GrpcTestPki, fake_products: FakeProducts
) -> None:
    # given: a real call over mutual TLS, as orders, to the fake products server (shopkit's server interceptors)
    grpc_pki.use(settings, "orders")
    reset_products_client()
    product = fake_products.add_product(name="Mug", price="9.50", stock=3)

    # when
    with trace.get_tracer("test").start_as_current_span("checkout") as span:
        products_client().get_product(product.id)

    # then: the client's and the server's histograms (both in this process) name the caller's trace
    labels = {"grpc_method": "GetProduct"}
    assert _trace_id(span) in exemplar_trace_ids("shop_grpc_client_handling_seconds_bucket", labels)
    assert _trace_id(span) in exemplar_trace_ids("shop_grpc_server_handling_seconds_bucket", labels)


@pytest.mark.django_db(transaction=True)
def test_event_handling_latency_carries_the_events_trace(
    kafka_settings: Any, topic: str, consumer_command: Callable[..., ConsumerCommand]
) -> None:
    # given: an event emitted in a checkout's trace and published by the relay
    order_id = str(uuid.uuid4())
    with trace.get_tracer("test").start_as_current_span("checkout") as checkout, transaction.atomic():
        outbox_event_emit(topic=topic, event_type="shop.order.confirmed.v1", key=order_id, subject=order_id, data={})
    call_command("outbox_relay", "--once")

    def handle(event: Event) -> None:
        pass

    command = consumer_command({"shop.order.confirmed.v1": handle})

    # when
    call_command(command, max_messages=1, max_seconds=20)

    # then: the consumer's span continues the checkout's trace, and that trace is the exemplar
    labels = {"topic": topic, "consumer": command.group_id, "outcome": "processed"}
    assert REGISTRY.get_sample_value("shop_event_handling_seconds_count", labels) == 1
    assert exemplar_trace_ids("shop_event_handling_seconds_bucket", labels) == [_trace_id(checkout)]


def test_a_domain_services_by_view_latency_carries_the_requests_trace_in_openmetrics(client: Client) -> None:
    # given: shopkit.base_settings' middleware as every domain service has it (this suite star-imports it too)
    assert "shopkit.metrics.PrometheusAfterMiddleware" in django_settings.MIDDLEWARE

    # when: a traced request (Django's OpenTelemetry middleware makes its server span), then a scrape
    response = client.get("/api/nothing-here")
    body = client.get("/metrics", headers={"Accept": PROMETHEUS_ACCEPT}).content.decode()

    # then: its trace id, as the response names it, is an exemplar of the by-view latency Prometheus reads
    assert response.status_code == 404
    exemplars = [
        sample.exemplar.labels["trace_id"]
        for family in openmetrics_families(body)
        for sample in family.samples
        if sample.name == "django_http_requests_latency_seconds_by_view_method_bucket"
        and sample.labels.items() >= {"view": "<unnamed view>", "method": "GET"}.items()
        and sample.exemplar
    ]
    assert response["X-Trace-Id"] in exemplars


SERVICE_SETTINGS = ["user_svc.settings", "product_svc.settings", "order_svc.settings", "cart_svc.settings"]


def _middleware(settings_module: str, **env: str) -> list[str]:
    """MIDDLEWARE of a service's settings imported in a fresh interpreter with `env` set."""
    root = Path(__file__).resolve().parents[2]
    code = "import importlib, json, sys; print(json.dumps(importlib.import_module(sys.argv[1]).MIDDLEWARE))"
    result = subprocess.run(
        [sys.executable, "-c", code, settings_module],
        env={
            **os.environ,  # noqa: TID251 - the child process inherits the test environment
            "PYTHONPATH": os.pathsep.join([str(root), str(root / "shopkit")]),
            **env,
        },
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    middleware: list[str] = json.loads(result.stdout.splitlines()[-1])
    return middleware


@pytest.mark.parametrize("settings_module", [*SERVICE_SETTINGS, "gateway_svc.settings"])
def test_metrics_off_leaves_no_prometheus_middleware(settings_module: str) -> None:
    # given: the benchmark's reference (bench/run.py) turns metrics off
    # when
    middleware = _middleware(settings_module, SHOP_METRICS_ENABLED="false")

    # then: neither django-prometheus' nor shopkit's (or the gateway's inline) Prometheus middleware is left
    assert [m for m in middleware if "prometheus" in m.lower()] == []
    assert "shopkit.middleware.TraceIdMiddleware" in middleware


@pytest.mark.parametrize("settings_module", SERVICE_SETTINGS)
def test_every_domain_service_measures_its_latency_with_shopkits_middleware(settings_module: str) -> None:
    # when: metrics on (the default)
    middleware = _middleware(settings_module, SHOP_METRICS_ENABLED="true")

    # then: shopkit's After middleware (exemplars) in django-prometheus' place
    assert [m for m in middleware if "prometheus" in m.lower()] == [
        "django_prometheus.middleware.PrometheusBeforeMiddleware",
        "shopkit.metrics.PrometheusAfterMiddleware",
    ]
