"""W3C trace context between the emitting transaction, the relay's producer span and consumers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACE_HEADERS = ("traceparent", "tracestate")

_propagator = TraceContextTextMapPropagator()


def capture_trace_headers(context: Context | None = None) -> dict[str, str]:
    """`traceparent` (and `tracestate`) of the current (or given) context; empty outside any trace."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier, context=context)
    return {name: value for name, value in carrier.items() if name in TRACE_HEADERS}


def context_from_headers(headers: Mapping[str, str]) -> Context:
    return _propagator.extract(carrier={k: v for k, v in headers.items() if k in TRACE_HEADERS})


def decode_kafka_headers(
    headers: Mapping[str, str | bytes | None] | Iterable[tuple[str, str | bytes | None]] | None,
) -> dict[str, str]:
    """Kafka headers as text; a repeated name keeps its last value, as HTTP-style propagation expects."""
    decoded: dict[str, str] = {}
    pairs = headers.items() if isinstance(headers, Mapping) else headers or ()
    for name, value in pairs:
        if value is None:
            decoded[name] = ""
        elif isinstance(value, bytes):
            decoded[name] = value.decode(errors="replace")
        else:
            decoded[name] = value
    return decoded
