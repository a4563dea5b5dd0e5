"""OpenTelemetry set-up, once per process: resource, sampler, OTLP exporter, instrumentations."""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from shopkit import __version__
from shopkit.logging import get_logger
from shopkit.settings import env

log = get_logger(__name__)
_lock = threading.Lock()
# The logger the OTLP/HTTP span exporter writes its errors and retries to (one line per failed batch).
OTLP_EXPORTER_LOGGER = "opentelemetry.exporter.otlp.proto.http.trace_exporter"
# Defaults when the environment sets neither: the SDK's own are 10 s per export and 30 s for the last
# flush at exit, which every process stop and every one-shot command would wait on an unreachable endpoint.
DEFAULT_EXPORT_TIMEOUT_SECONDS = 2.0
DEFAULT_SHUTDOWN_TIMEOUT_MILLIS = 3000
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
    # Shut down by `_shutdown_bounded` below instead of the SDK's own exit hook, which has no time bound.
    provider = TracerProvider(resource=resource, sampler=ParentBased(TraceIdRatioBased(ratio)), shutdown_on_exit=False)
    endpoint = env.str("OTEL_EXPORTER_OTLP_ENDPOINT", default="")
    if endpoint:
        exporter = ReportingExporter(_otlp_exporter(f"{endpoint.rstrip('/')}/v1/traces"), endpoint=endpoint)
        shutdown_millis = env.float("OTEL_BSP_EXPORT_TIMEOUT", default=DEFAULT_SHUTDOWN_TIMEOUT_MILLIS)
        provider.add_span_processor(BatchSpanProcessor(exporter, export_timeout_millis=shutdown_millis))
        atexit.register(_shutdown_bounded, provider, exporter, shutdown_millis / 1000)
    trace.set_tracer_provider(provider)
    _instrument_libraries()


def _otlp_exporter(url: str) -> SpanExporter:
    """The SDK's OTLP/HTTP exporter with a short timeout unless OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT is set.

    The Python exporter reads those variables in seconds (the specification says milliseconds).
    """
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    configured = env.str("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", default="") or env.str(
        "OTEL_EXPORTER_OTLP_TIMEOUT", default=""
    )
    return OTLPSpanExporter(endpoint=url, timeout=None if configured else DEFAULT_EXPORT_TIMEOUT_SECONDS)


class _ExporterLines(logging.Filter):
    """Keeps the OTLP exporter's own lines out of the log, remembering the first of each export attempt."""

    def __init__(self) -> None:
        super().__init__()
        self.first: str | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if self.first is None:
            # The exception the exporter reports, if any, says it best (refused, unresolvable, timed out).
            args = record.args if isinstance(record.args, tuple) else ()
            error = next((arg for arg in args if isinstance(arg, BaseException)), None)
            self.first = f"{type(error).__name__}: {error}" if error is not None else record.getMessage()
        return False


class ReportingExporter(SpanExporter):
    """Wraps the OTLP exporter: one warning when export starts failing, one line when it works again.

    The SDK's exporter logs an error (after retries) for every failed batch, every few seconds for as
    long as the trace backend is down; here its lines are swallowed and the state change is logged:
    `trace_export_failing` (with the exporter's first complaint) and `trace_export_recovered`. Once the
    process is stopping, an endpoint known to fail is not tried again, so a stop never waits on it.
    """

    def __init__(self, inner: SpanExporter, *, endpoint: str) -> None:
        self._inner = inner
        self.endpoint = endpoint
        self._failing = False
        self._failed_batches = 0
        self._stopping = threading.Event()
        self._lines = _ExporterLines()
        exporter_logger = logging.getLogger(OTLP_EXPORTER_LOGGER)
        # WARNING: its retry lines, which name the cause (refused, unresolvable, HTTP status), reach the filter.
        exporter_logger.setLevel(logging.WARNING)
        exporter_logger.addFilter(self._lines)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._failing and self._stopping.is_set():
            return SpanExportResult.FAILURE
        self._lines.first = None
        result = self._inner.export(spans)
        if result is SpanExportResult.SUCCESS:
            if self._failing:
                self._failing = False
                log.info("trace_export_recovered", endpoint=self.endpoint, failed_batches=self._failed_batches)
                self._failed_batches = 0
            return result
        self._failed_batches += 1
        if not self._failing:
            self._failing = True
            log.warning(
                "trace_export_failing",
                endpoint=self.endpoint,
                error=self._lines.first or "export failed",
                detail="spans are dropped until the endpoint answers; one line follows when it does",
            )
        return result

    def stopping(self) -> None:
        """The process is exiting: from now on a failing endpoint is not retried."""
        self._stopping.set()

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


def _shutdown_bounded(provider: TracerProvider, exporter: ReportingExporter, seconds: float) -> None:
    """At exit: flush what is queued, but never wait longer than `seconds` (OTEL_BSP_EXPORT_TIMEOUT).

    The SDK's shutdown joins its export thread for up to 30 s and cannot be interrupted while a
    request (or a name lookup, which no HTTP timeout covers) hangs; it runs in a daemon thread here,
    abandoned at the deadline so the process exits anyway.
    """
    exporter.stopping()
    worker = threading.Thread(target=provider.shutdown, name="shopkit-tracing-shutdown", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        log.warning("trace_export_abandoned", endpoint=exporter.endpoint, waited_seconds=seconds)


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
