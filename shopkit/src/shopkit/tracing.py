"""OpenTelemetry set-up, once per process: resource, sampler, OTLP exporter, instrumentations."""

from __future__ import annotations

import threading
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from shopkit import __version__
from shopkit.settings import env

_lock = threading.Lock()
_done = {"tracing": False, "django": False}


def setup_tracing(service_name: str) -> None:
    """Install the tracer provider. Trace ids exist even without an exporter (X-Trace-Id needs them).

    `SHOP_TRACING_ENABLED=false` installs nothing at all (the observability benchmark's reference).
    """
    with _lock:
        if _done["tracing"]:
            return
        _done["tracing"] = True
    if not env.bool("SHOP_TRACING_ENABLED", default=True):
        _done["django"] = True
        return
    resource = Resource.create(
        {
            "service.name": service_name,
            "service.namespace": "shop",
            "service.version": env.str("SERVICE_VERSION", default=__version__),
            "deployment.environment": env.str("SHOP_ENV", default="development"),
        }
    )
    ratio = env.float("OTEL_TRACES_SAMPLER_ARG", default=1.0)
    provider = TracerProvider(resource=resource, sampler=ParentBased(TraceIdRatioBased(ratio)))
    endpoint = env.str("OTEL_EXPORTER_OTLP_ENDPOINT", default="")
    if endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces")))
    trace.set_tracer_provider(provider)
    _instrument_libraries()


def _instrument_libraries() -> None:
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    HTTPXClientInstrumentor().instrument()
    PsycopgInstrumentor().instrument(enable_commenter=False, skip_dep_check=True)
    RedisInstrumentor().instrument()


EXCLUDED_URLS = "health/live,health/ready,metrics"


def wrap_asgi(app: Any) -> Any:
    """Server spans for an ASGI application, from OpenTelemetry's native ASGI middleware.

    Django's OpenTelemetry middleware is synchronous only: under ASGI, Django would run it in its one
    thread-sensitive worker thread and block that thread for the whole request, so an async service
    would serve one request at a time. Async services wrap their ASGI app with this instead (and set
    `SHOP_TRACING_ASGI = True` so the Django middleware is not installed).
    """
    if not env.bool("SHOP_TRACING_ENABLED", default=True):
        return app
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    return OpenTelemetryMiddleware(app, excluded_urls=EXCLUDED_URLS, exclude_spans=["receive", "send"])


def name_server_span(method: str, route: str) -> None:
    """Name the current server span after its route template (`GET api/products/<product_id>`)."""
    span = trace.get_current_span()
    if span.is_recording():
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)


def instrument_django() -> None:
    with _lock:
        if _done["django"]:
            return
        _done["django"] = True
    from opentelemetry.instrumentation.django import DjangoInstrumentor

    DjangoInstrumentor().instrument(excluded_urls=EXCLUDED_URLS)


def current_trace_id() -> str:
    """The current trace id as 32 hex digits, or "" outside any span."""
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else ""


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name, __version__)
