"""Prometheus metrics of gRPC calls, server and client side, as interceptors; latencies carry the trace as exemplar."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import grpc
from prometheus_client import Counter

from shopkit.grpc.status import method_labels
from shopkit.metrics import TracedHistogram, trace_exemplar

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

SERVER_HANDLED = Counter(
    "shop_grpc_server_handled_total",
    "RPCs completed on the server, by status code.",
    ["grpc_service", "grpc_method", "grpc_code"],
)
SERVER_HANDLING_SECONDS = TracedHistogram(
    "shop_grpc_server_handling_seconds",
    "Time the server took to handle an RPC.",
    ["grpc_service", "grpc_method"],
    buckets=_BUCKETS,
)
CLIENT_HANDLED = Counter(
    "shop_grpc_client_handled_total",
    "RPCs completed by clients, by status code.",
    ["grpc_service", "grpc_method", "grpc_code"],
)
CLIENT_HANDLING_SECONDS = TracedHistogram(
    "shop_grpc_client_handling_seconds",
    "Time from starting an RPC to its status, as the client sees it.",
    ["grpc_service", "grpc_method"],
    buckets=_BUCKETS,
)


def _code_name(code: Any) -> str:
    if isinstance(code, grpc.StatusCode):
        return code.name
    return "UNKNOWN" if code is None else str(code)


class PrometheusServerInterceptor(grpc.ServerInterceptor):
    """Counts and times every unary RPC with the status code it ended with."""

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        service, method = method_labels(handler_call_details.method)
        behavior = handler.unary_unary

        def observed(request: Any, context: grpc.ServicerContext) -> Any:
            started = time.perf_counter()
            code: Any = grpc.StatusCode.OK
            try:
                response = behavior(request, context)
                code = context.code() or grpc.StatusCode.OK  # type: ignore[attr-defined]
                return response
            except BaseException:
                # An abort() set the code; anything else becomes UNKNOWN in grpcio.
                code = context.code() or grpc.StatusCode.UNKNOWN  # type: ignore[attr-defined]
                raise
            finally:
                SERVER_HANDLING_SECONDS.labels(service, method).observe(time.perf_counter() - started)
                SERVER_HANDLED.labels(service, method, _code_name(code)).inc()

        return grpc.unary_unary_rpc_method_handler(
            observed,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


class PrometheusClientInterceptor(grpc.UnaryUnaryClientInterceptor):
    """Counts and times every unary call a client makes, by the status it ended with."""

    def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.ClientCallDetails, Any], Any],
        client_call_details: grpc.ClientCallDetails,
        request: Any,
    ) -> Any:
        service, method = method_labels(client_call_details.method)
        # Taken now: a future's callback runs on a gRPC thread, outside the caller's trace context.
        exemplar = trace_exemplar()
        started = time.perf_counter()

        def record(call: Any) -> None:
            CLIENT_HANDLING_SECONDS.labels(service, method).observe(time.perf_counter() - started, exemplar)
            CLIENT_HANDLED.labels(service, method, _code_name(call.code())).inc()

        outcome = continuation(client_call_details, request)
        # Blocking calls are complete here (the callback runs at once); futures report when done.
        outcome.add_done_callback(record)
        return outcome
