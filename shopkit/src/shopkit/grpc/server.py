"""Building and running a gRPC server: mutual TLS, per-method authorization, health, reflection, metrics, errors."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection as reflection_service

from shopkit.errors import ApplicationError
from shopkit.grpc.metrics import PrometheusServerInterceptor
from shopkit.grpc.status import error_trailing_metadata, method_labels, status_code_for
from shopkit.grpc.tls import peer_identity
from shopkit.logging import get_logger
from shopkit.process import stop_on_signals

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


class AuthorizationInterceptor(grpc.ServerInterceptor):
    """Per-method authorization on the caller's certificate identity (shopkit.grpc.tls.peer_identity).

    `callers` maps a full method name (`/shop.product.v1.ProductService/ReserveStock`) to the service
    identities allowed to call it; methods of `open_services` (health, reflection) are open to every
    certificate the stack's CA signed (TLS already refused the others); any other method is denied.
    """

    def __init__(self, callers: Mapping[str, Collection[str]], *, open_services: Collection[str] = ()) -> None:
        self._callers = {method: frozenset(names) for method, names in callers.items()}
        self._open_services = frozenset(open_services)

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        method = handler_call_details.method
        handler = continuation(handler_call_details)
        if handler is None or method_labels(method)[0] in self._open_services:
            return handler
        return _wrap_any(handler, self._guard(method, self._callers.get(method, frozenset())))

    @staticmethod
    def _guard(full_method: str, allowed: frozenset[str]) -> Callable[[Behavior], Behavior]:
        service, method = method_labels(full_method)

        def wrap(behavior: Behavior) -> Behavior:
            def authorized(request: Any, context: grpc.ServicerContext) -> Any:
                caller = peer_identity(context)
                if caller not in allowed:
                    log.warning("grpc_call_denied", grpc_service=service, grpc_method=method, caller=caller)
                    context.abort(  # raises: the call ends here
                        grpc.StatusCode.PERMISSION_DENIED, f"{caller or 'this caller'} may not call {method}."
                    )
                return behavior(request, context)

            return authorized

        return wrap


def method_callers(service_name: str, by_method: Mapping[str, Collection[str]]) -> dict[str, frozenset[str]]:
    """`{"ReserveStock": ["orders"]}` of one service -> `{"/<service>/ReserveStock": {"orders"}}` for build_server."""
    return {f"/{service_name}/{method}": frozenset(names) for method, names in by_method.items()}


def _wrap_any(handler: grpc.RpcMethodHandler, wrap: Callable[[Behavior], Behavior]) -> grpc.RpcMethodHandler:
    """The same handler with `wrap` around its behavior, whichever of the four call shapes it has."""
    serializers = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(wrap(handler.unary_unary), **serializers)
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(wrap(handler.unary_stream), **serializers)
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(wrap(handler.stream_unary), **serializers)
    if handler.stream_stream is not None:
        return grpc.stream_stream_rpc_method_handler(wrap(handler.stream_stream), **serializers)
    return handler


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
    credentials: grpc.ServerCredentials,
    callers: Mapping[str, Collection[str]],
    reflection: bool = True,
    max_workers: int = 10,
    django_db: bool = True,
    extra_interceptors: Sequence[grpc.ServerInterceptor] = (),
) -> RunningServer:
    """A started server on TLS `credentials` (shopkit.grpc.tls.server_credentials: a client certificate is
    required) with the health service (SERVING for "" and every service), reflection when asked for
    (never in production) and interceptors.

    `callers`: the identities allowed per full method name (AuthorizationInterceptor); every other
    method of `service_names` is denied. Interceptors run outermost first: tracing, metrics,
    authorization, DB connection hygiene, error mapping.
    """
    from opentelemetry.instrumentation.grpc import server_interceptor

    interceptors: list[grpc.ServerInterceptor] = [
        server_interceptor(),  # type: ignore[no-untyped-call]
        PrometheusServerInterceptor(),
        AuthorizationInterceptor(callers, open_services=(health.SERVICE_NAME, reflection_service.SERVICE_NAME)),
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
    if reflection:
        reflection_service.enable_server_reflection(
            (*names, health.SERVICE_NAME, reflection_service.SERVICE_NAME), server
        )
    bound = server.add_secure_port(f"{bind}:{port}", credentials)
    if bound == 0:
        raise RuntimeError(f"cannot bind gRPC server to {bind}:{port}")
    server.start()
    log.info(
        "grpc_server_started",
        bind=bind,
        port=bound,
        services=list(names),
        max_workers=max_workers,
        mutual_tls=True,
        reflection=reflection,
    )
    return RunningServer(server=server, port=bound, health=health_servicer, service_names=names)


def serve_until_signalled(running: RunningServer, *, grace_seconds: float) -> None:
    """Block until SIGTERM/SIGINT, then stop gracefully."""
    with stop_on_signals(threading.Event()) as stop:
        while not stop.wait(1.0):
            pass
    log.info("grpc_server_stopping", port=running.port, grace_seconds=grace_seconds)
    running.stop(grace_seconds)
    log.info("grpc_server_stopped", port=running.port)
