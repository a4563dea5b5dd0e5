"""Building and running a gRPC server: health, reflection, tracing, metrics, error mapping, graceful stop."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from shopkit.errors import ApplicationError
from shopkit.events.runtime import stop_on_signals
from shopkit.grpc.metrics import PrometheusServerInterceptor
from shopkit.grpc.status import error_trailing_metadata, method_labels, status_code_for
from shopkit.logging import get_logger

log = get_logger(__name__)

# Clients ping every 30 s (shopkit.grpc.products); accept that instead of answering GOAWAY "too_many_pings".
SERVER_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 10_000),
    ("grpc.http2.max_ping_strikes", 0),
)

Behavior = Callable[[Any, grpc.ServicerContext], Any]


def _wrap_unary(
    continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
    details: grpc.HandlerCallDetails,
    wrap: Callable[[Behavior, str], Behavior],
) -> grpc.RpcMethodHandler | None:
    handler = continuation(details)
    if handler is None or handler.unary_unary is None:
        return handler
    return grpc.unary_unary_rpc_method_handler(
        wrap(handler.unary_unary, details.method),
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


class ErrorInterceptor(grpc.ServerInterceptor):
    """The one place errors become statuses: ApplicationError -> its status plus trailing metadata
    (code, `product_id`, `available`), database outage -> UNAVAILABLE, anything else -> INTERNAL, logged once.
    """

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        return _wrap_unary(continuation, handler_call_details, self._guard)

    @staticmethod
    def _guard(behavior: Behavior, full_method: str) -> Behavior:
        from django.db import InterfaceError, OperationalError

        service, method = method_labels(full_method)

        def guarded(request: Any, context: grpc.ServicerContext) -> Any:
            try:
                return behavior(request, context)
            except ApplicationError as exc:
                context.set_trailing_metadata(error_trailing_metadata(exc))
                context.abort(status_code_for(exc), exc.detail)
            except (OperationalError, InterfaceError) as exc:
                log.error("grpc_database_unavailable", grpc_service=service, grpc_method=method, error=str(exc))
                context.abort(grpc.StatusCode.UNAVAILABLE, "The service's database is unavailable.")
            except Exception:
                if context.code() is not None:  # type: ignore[attr-defined]
                    raise  # the servicer aborted on purpose: its status stands
                log.exception("grpc_unhandled_exception", grpc_service=service, grpc_method=method)
                context.abort(grpc.StatusCode.INTERNAL, "An unexpected error occurred; it has been logged.")

        return guarded


class DjangoConnectionInterceptor(grpc.ServerInterceptor):
    """What Django does around each HTTP request: drop stale or broken DB connections before and after."""

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        return _wrap_unary(continuation, handler_call_details, self._manage)

    @staticmethod
    def _manage(behavior: Behavior, full_method: str) -> Behavior:
        from django.db import close_old_connections

        def managed(request: Any, context: grpc.ServicerContext) -> Any:
            close_old_connections()
            try:
                return behavior(request, context)
            finally:
                close_old_connections()

        return managed


@dataclass
class RunningServer:
    server: grpc.Server
    port: int
    health: health.HealthServicer
    service_names: tuple[str, ...]

    def stop(self, grace_seconds: float) -> None:
        """Report NOT_SERVING, refuse new calls, let calls in flight finish for up to `grace_seconds`."""
        self.health.enter_graceful_shutdown()
        self.server.stop(grace_seconds).wait()


def build_server(
    *,
    register: Callable[[grpc.Server], None],
    service_names: Sequence[str],
    bind: str,
    port: int,
    max_workers: int = 10,
    django_db: bool = True,
    extra_interceptors: Sequence[grpc.ServerInterceptor] = (),
) -> RunningServer:
    """A started server with the health service (SERVING for "" and every service), reflection and interceptors.

    Interceptors run outermost first: tracing, metrics, DB connection hygiene, error mapping.
    """
    from opentelemetry.instrumentation.grpc import server_interceptor

    interceptors: list[grpc.ServerInterceptor] = [
        server_interceptor(),  # type: ignore[no-untyped-call]
        PrometheusServerInterceptor(),
        *extra_interceptors,
    ]
    if django_db:
        interceptors.append(DjangoConnectionInterceptor())
    interceptors.append(ErrorInterceptor())
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="grpc"),
        interceptors=interceptors,
        options=SERVER_OPTIONS,
    )
    register(server)
    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = tuple(service_names)
    for name in ("", *names):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    reflection.enable_server_reflection((*names, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    bound = server.add_insecure_port(f"{bind}:{port}")
    if bound == 0:
        raise RuntimeError(f"cannot bind gRPC server to {bind}:{port}")
    server.start()
    log.info("grpc_server_started", bind=bind, port=bound, services=list(names), max_workers=max_workers)
    return RunningServer(server=server, port=bound, health=health_servicer, service_names=names)


def serve_until_signalled(running: RunningServer, *, grace_seconds: float) -> None:
    """Block until SIGTERM/SIGINT, then stop gracefully."""
    with stop_on_signals(threading.Event()) as stop:
        while not stop.wait(1.0):
            pass
    log.info("grpc_server_stopping", port=running.port, grace_seconds=grace_seconds)
    running.stop(grace_seconds)
    log.info("grpc_server_stopped", port=running.port)
