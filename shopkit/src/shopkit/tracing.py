"""OpenTelemetry set-up, once per process: resource, sampler, OTLP exporter, instrumentations."""

from __future__ import annotations

import threading

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


def instrument_django() -> None:
    with _lock:
        if _done["django"]:
            return
        _done["django"] = True
    from opentelemetry.instrumentation.django import DjangoInstrumentor

    DjangoInstrumentor().instrument(excluded_urls="health/live,health/ready,metrics")


def current_trace_id() -> str:
    """The current trace id as 32 hex digits, or "" outside any span."""
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else ""


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name, __version__)
