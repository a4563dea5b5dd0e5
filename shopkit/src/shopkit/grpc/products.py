"""The products service's gRPC client: the only way other services look products up and move stock.

    client = products_client()
    client.get_product(product_id) -> ProductInfo
    client.get_products([ids]) -> dict[UUID, ProductInfo]
    client.reserve_stock(order_id, [(product_id, quantity), ...]) -> list[ReservedLine]
    client.release_stock(order_id) -> bool
    client.confirm_reservation(order_id) -> bool

Its errors and values (ProductRefusal and its kinds, ProductInfo, ReservedLine) are the contract
products' server shares (shopkit.grpc.product_contract); they are importable from here too.

One channel per process, created lazily on first use: gunicorn forks its workers after importing
the application, and a gRPC channel must never cross a fork. The channel is mutual TLS: it trusts only
the stack's CA and presents this service's certificate, whose identity products authorizes per method
(shopkit.grpc.tls).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from typing import TypeVar

import grpc
import stamina
from django.conf import settings
from grpc_health.v1 import health_pb2, health_pb2_grpc

from shop.product.v1 import product_pb2, product_pb2_grpc
from shopkit.grpc.metrics import PrometheusClientInterceptor
from shopkit.grpc.product_contract import (
    InsufficientStock,
    InvalidArgument,
    ProductInfo,
    ProductNotFound,
    ProductRefusal,
    ProductsErrorCode,
    ProductsServiceUnavailable,
    ProductUnavailable,
    ReservationNotFound,
    ReservationReleased,
    ReservedLine,
    error_from_rpc,
)
from shopkit.grpc.tls import TlsFiles, channel_credentials
from shopkit.logging import get_logger
from shopkit.process import ProcessLocal

log = get_logger(__name__)

T = TypeVar("T")
R = TypeVar("R")

SERVICE_NAME = "shop.product.v1.ProductService"
READ_ATTEMPTS = 3

# Keepalive pings find dead connections between calls; short reconnect backoff lets a restarted
# server be reached again within a second or two instead of gRPC's default of up to two minutes.
CHANNEL_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2_000),
)

_RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


def _is_transient(exc: Exception) -> bool:
    return isinstance(exc, grpc.RpcError) and exc.code() in _RETRYABLE


class ProductsClient:
    """Typed calls to `shop.product.v1.ProductService`, with deadlines, read retries and error mapping."""

    def __init__(self, target: str, *, deadline_seconds: float, tls: TlsFiles | None = None) -> None:
        """`tls`: this caller's CA bundle, certificate and key; by default the settings' (`GRPC_TLS_*`)."""
        self.target = target
        self.deadline_seconds = deadline_seconds
        credentials = channel_credentials(tls or TlsFiles.from_settings())
        self._raw_channel = grpc.secure_channel(target, credentials, options=CHANNEL_OPTIONS)
        self._stub = product_pb2_grpc.ProductServiceStub(_instrumented(self._raw_channel))
        # On the raw channel (same connection, same identity): readiness probes are neither traced nor
        # counted as calls to the product service.
        self._health = health_pb2_grpc.HealthStub(self._raw_channel)

    def close(self) -> None:
        self._raw_channel.close()

    def check_serving(self, *, timeout: float) -> None:
        """grpc.health.v1 Health/Check of the product service over this client's channel, within `timeout`.

        ProductsServiceUnavailable, naming what happened, unless products answers SERVING: unreachable,
        TLS refused either way, deadline exceeded, or a status other than SERVING.
        """
        request = health_pb2.HealthCheckRequest(service=SERVICE_NAME)
        try:
            reply = self._health.Check(request, timeout=timeout)
        except grpc.RpcError as exc:
            code = exc.code()
            raise ProductsServiceUnavailable(
                f"Health/Check on {self.target}: {code.name if code else 'UNKNOWN'} ({exc.details() or ''})"
            ) from exc
        if reply.status != health_pb2.HealthCheckResponse.SERVING:
            status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
            raise ProductsServiceUnavailable(f"Health/Check on {self.target}: {status}")

    def get_product(self, product_id: uuid.UUID | str) -> ProductInfo:
        request = product_pb2.GetProductRequest(id=str(product_id))
        message = self._read(lambda timeout: self._stub.GetProduct(request, timeout=timeout), product_id=product_id)
        return ProductInfo.from_message(message)

    def get_products(self, product_ids: Iterable[uuid.UUID | str]) -> dict[uuid.UUID, ProductInfo]:
        ids = list(dict.fromkeys(str(product_id) for product_id in product_ids))
        if not ids:
            return {}
        request = product_pb2.GetProductsRequest(ids=ids)
        response = self._read(lambda timeout: self._stub.GetProducts(request, timeout=timeout))
        return {info.id: info for info in map(ProductInfo.from_message, response.products)}

    def reserve_stock(
        self, order_id: uuid.UUID | str, lines: Iterable[tuple[uuid.UUID | str, int]]
    ) -> list[ReservedLine]:
        """All or nothing, idempotent per order: a repeated call returns the existing reservation.

        Not retried here: the caller may safely repeat the whole reservation with the same order id.
        """
        request = product_pb2.ReserveStockRequest(
            order_id=str(order_id),
            lines=[product_pb2.ReservationLine(product_id=str(pid), quantity=qty) for pid, qty in lines],
        )
        response = self._write(self._stub.ReserveStock, request)
        log.info("stock_reserved_remotely", order_id=str(order_id), replayed=response.replayed)
        return [ReservedLine.from_message(line) for line in response.lines]

    def release_stock(self, order_id: uuid.UUID | str) -> bool:
        """Idempotent; False when nothing was held (already released or never reserved)."""
        request = product_pb2.ReleaseStockRequest(order_id=str(order_id))
        response = self._write(self._stub.ReleaseStock, request)
        return response.released

    def confirm_reservation(self, order_id: uuid.UUID | str) -> bool:
        """The order is confirmed: its reservation no longer expires. Idempotent; False when it already was.

        ReservationReleased when it was released meanwhile; InsufficientStock when it expired and its
        units were sold; ReservationNotFound when products never reserved for the order.
        """
        request = product_pb2.ConfirmReservationRequest(order_id=str(order_id))
        response = self._write(self._stub.ConfirmReservation, request)
        return response.confirmed

    def _write(self, method: grpc.UnaryUnaryMultiCallable[R, T], request: R) -> T:
        """One attempt within the deadline: writes are idempotent per order, so the caller decides to repeat."""
        try:
            return method(request, timeout=self.deadline_seconds)
        except grpc.RpcError as exc:
            raise error_from_rpc(exc) from exc

    def _read(self, call: Callable[[float], T], *, product_id: uuid.UUID | str | None = None) -> T:
        """Run a read with backoff on UNAVAILABLE / DEADLINE_EXCEEDED, all within one overall deadline."""
        deadline = time.monotonic() + self.deadline_seconds
        try:
            for attempt in stamina.retry_context(
                on=_is_transient,
                attempts=READ_ATTEMPTS,
                timeout=self.deadline_seconds,
                wait_initial=0.05,
                wait_max=0.5,
                wait_jitter=0.05,
            ):
                with attempt:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise ProductsServiceUnavailable("The products service did not answer in time.")
                    return call(remaining)
        except grpc.RpcError as exc:
            raise error_from_rpc(exc, product_id=product_id) from exc
        raise ProductsServiceUnavailable()  # pragma: no cover - retry_context always runs at least once


def _instrumented(channel: grpc.Channel) -> grpc.Channel:
    """Tracing (outermost, so `traceparent` goes out with the call) around metrics around the channel."""
    from opentelemetry.instrumentation.grpc import client_interceptor
    from opentelemetry.instrumentation.grpc.grpcext import intercept_channel

    measured = grpc.intercept_channel(channel, PrometheusClientInterceptor())
    traced: grpc.Channel = intercept_channel(measured, client_interceptor())  # type: ignore[no-untyped-call]
    return traced


def _new_products_client() -> ProductsClient:
    return ProductsClient(settings.PRODUCTS_GRPC_TARGET, deadline_seconds=settings.GRPC_DEADLINE_SECONDS)


_client: ProcessLocal[ProductsClient] = ProcessLocal(_new_products_client, close=ProductsClient.close)


def products_client() -> ProductsClient:
    """The process-wide client: one reused channel to `settings.PRODUCTS_GRPC_TARGET`, made on first use."""
    return _client.get()


def reset_products_client() -> None:
    """Close and forget the process-wide client (tests repoint `PRODUCTS_GRPC_TARGET`)."""
    _client.reset()


__all__ = [
    "InsufficientStock",
    "InvalidArgument",
    "ProductInfo",
    "ProductNotFound",
    "ProductRefusal",
    "ProductUnavailable",
    "ProductsClient",
    "ProductsErrorCode",
    "ProductsServiceUnavailable",
    "ReservationNotFound",
    "ReservationReleased",
    "ReservedLine",
    "products_client",
    "reset_products_client",
]
