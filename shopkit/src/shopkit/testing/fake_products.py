"""An in-memory products service behind a real gRPC server (mutual TLS), for tests of services calling products.

    def test_add_to_cart(fake_products, customer_client):
        product = fake_products.add_product(name="Mug", price="9.50", stock=3)
        ...
        assert fake_products.stock(product.id) == 3

It serves TLS with products' test certificate and authorizes callers as the real service does (`CALLERS`).
Reservations behave like the real service: all or nothing, idempotent per order id, never below zero;
held until confirmed, released or expired (`expire()`); a released or expired reservation is reserved
again, never answered as held; releasing and confirming are idempotent. Errors travel as the same gRPC
statuses and trailing metadata, raised as the same classes the real service raises
(shopkit.grpc.product_contract).
"""

from __future__ import annotations

import collections
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import grpc
import pytest

from shop.product.v1 import product_pb2, product_pb2_grpc
from shopkit.grpc.policy import PRODUCTS_CALLERS
from shopkit.grpc.product_contract import (
    InsufficientStock,
    InvalidArgument,
    ProductInfo,
    ProductNotFound,
    ProductsServiceUnavailable,
    ProductUnavailable,
    ReservationNotFound,
    ReservationReleased,
    ReservedLine,
    product_message,
    reserved_line_message,
)
from shopkit.grpc.products import reset_products_client
from shopkit.grpc.server import RunningServer, build_server, method_callers
from shopkit.grpc.tls import TlsFiles, server_credentials
from shopkit.testing.grpc_tls import GrpcTestPki

SERVICE_NAME = "shop.product.v1.ProductService"
# The real service's policy (product_svc uses the same): a service's suite fails as the stack would if
# its code called a method its identity may not.
CALLERS = PRODUCTS_CALLERS
MAX_LINES = 100
MAX_QUANTITY = 10_000


HELD, CONFIRMED, RELEASED, EXPIRED = "held", "confirmed", "released", "expired"


@dataclass
class _Reservation:
    lines: list[product_pb2.ReservedLine]
    status: str = HELD

    @property
    def allocating(self) -> bool:
        return self.status in (HELD, CONFIRMED)


@dataclass
class FakeProducts(product_pb2_grpc.ProductServiceServicer):
    """The in-memory catalog and its servicer; tests add products and read stock and reservations."""

    products: dict[uuid.UUID, ProductInfo] = field(default_factory=dict)
    reservations: dict[str, _Reservation] = field(default_factory=dict)
    # Seconds every call waits before answering: makes deadline tests possible.
    delay_seconds: float = 0.0
    # RPC names that answer UNAVAILABLE, as an unreachable products would (one call failing alone).
    unavailable: set[str] = field(default_factory=set)
    target: str = ""
    # Calls per RPC name since the last reset: tests check how often a service asks products.
    calls: collections.Counter[str] = field(default_factory=collections.Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- test API -------------------------------------------------------------------------------

    def add_product(
        self,
        *,
        name: str = "Test product",
        price: Decimal | str = "10.00",
        stock: int = 10,
        active: bool = True,
        currency: str = "USD",
        sku: str | None = None,
        product_id: uuid.UUID | None = None,
    ) -> ProductInfo:
        info = ProductInfo(
            id=product_id or uuid.uuid4(),
            sku=sku or f"SKU-{uuid.uuid4().hex[:10].upper()}",
            name=name,
            price=Decimal(price),
            currency=currency,
            stock=stock,
            active=active,
        )
        with self._lock:
            self.products[info.id] = info
        return info

    def update_product(self, product_id: uuid.UUID, **changes: Any) -> ProductInfo:
        with self._lock:
            info = replace(self.products[product_id], **changes)
            self.products[product_id] = info
        return info

    def stock(self, product_id: uuid.UUID) -> int:
        with self._lock:
            return self.products[product_id].stock

    def is_held(self, order_id: uuid.UUID | str) -> bool:
        """Whether the order's units are allocated (its reservation held or confirmed)."""
        with self._lock:
            reservation = self.reservations.get(str(order_id))
            return reservation is not None and reservation.allocating

    def status(self, order_id: uuid.UUID | str) -> str | None:
        with self._lock:
            reservation = self.reservations.get(str(order_id))
            return reservation.status if reservation is not None else None

    def expire(self, order_id: uuid.UUID | str) -> None:
        """What the real service does when a held reservation's time is up: its units go back."""
        with self._lock:
            reservation = self.reservations[str(order_id)]
            assert reservation.status == HELD, reservation.status
            self._give_back(reservation)
            reservation.status = EXPIRED

    def reset(self) -> None:
        with self._lock:
            self.products.clear()
            self.reservations.clear()
            self.delay_seconds = 0.0
            self.unavailable.clear()
            self.calls.clear()

    # --- servicer -------------------------------------------------------------------------------

    def GetProduct(self, request: product_pb2.GetProductRequest, context: grpc.ServicerContext) -> product_pb2.Product:
        self._wait("GetProduct")
        product_id = _parse_uuid(request.id)
        with self._lock:
            info = self.products.get(product_id) if product_id else None
        if info is None:
            raise ProductNotFound(request.id)
        return product_message(info)

    def GetProducts(
        self, request: product_pb2.GetProductsRequest, context: grpc.ServicerContext
    ) -> product_pb2.GetProductsResponse:
        self._wait("GetProducts")
        if len(request.ids) > MAX_LINES:
            raise InvalidArgument(f"At most {MAX_LINES} ids per call.")
        found, missing = [], []
        with self._lock:
            for raw in dict.fromkeys(request.ids):
                product_id = _parse_uuid(raw)
                info = self.products.get(product_id) if product_id else None
                if info is None:
                    missing.append(raw)
                else:
                    found.append(product_message(info))
        return product_pb2.GetProductsResponse(products=found, missing_ids=missing)

    def ReserveStock(
        self, request: product_pb2.ReserveStockRequest, context: grpc.ServicerContext
    ) -> product_pb2.ReserveStockResponse:
        self._wait("ReserveStock")
        order_id = _order_id(request.order_id)
        wanted = _parse_lines(request.lines)
        with self._lock:
            existing = self.reservations.get(str(order_id))
            if existing is not None and existing.allocating:
                return product_pb2.ReserveStockResponse(order_id=str(order_id), lines=existing.lines, replayed=True)
            lines = self._allocate(wanted)
            self.reservations[str(order_id)] = _Reservation(lines=lines)
        return product_pb2.ReserveStockResponse(order_id=str(order_id), lines=lines, replayed=False)

    def ReleaseStock(
        self, request: product_pb2.ReleaseStockRequest, context: grpc.ServicerContext
    ) -> product_pb2.ReleaseStockResponse:
        self._wait("ReleaseStock")
        order_id = _order_id(request.order_id)
        with self._lock:
            reservation = self.reservations.get(str(order_id))
            if reservation is None or not reservation.allocating:
                return product_pb2.ReleaseStockResponse(order_id=str(order_id), released=False)
            self._give_back(reservation)
            reservation.status = RELEASED
        return product_pb2.ReleaseStockResponse(order_id=str(order_id), released=True)

    def ConfirmReservation(
        self, request: product_pb2.ConfirmReservationRequest, context: grpc.ServicerContext
    ) -> product_pb2.ConfirmReservationResponse:
        self._wait("ConfirmReservation")
        order_id = _order_id(request.order_id)
        with self._lock:
            reservation = self.reservations.get(str(order_id))
            if reservation is None:
                raise ReservationNotFound(order_id)
            if reservation.status == CONFIRMED:
                return product_pb2.ConfirmReservationResponse(order_id=str(order_id), confirmed=False)
            if reservation.status == RELEASED:
                raise ReservationReleased(order_id)
            if reservation.status == EXPIRED:
                reservation.lines = self._allocate(
                    {uuid.UUID(line.product_id): line.quantity for line in reservation.lines}
                )
            reservation.status = CONFIRMED
        return product_pb2.ConfirmReservationResponse(order_id=str(order_id), confirmed=True)

    def _allocate(self, wanted: dict[uuid.UUID, int]) -> list[product_pb2.ReservedLine]:
        """Take every line (all or nothing) at today's names and prices; the caller holds the lock."""
        for product_id, quantity in sorted(wanted.items()):
            info = self.products.get(product_id)
            if info is None:
                raise ProductNotFound(product_id)
            if not info.active:
                raise ProductUnavailable(product_id)
            if info.stock < quantity:
                raise InsufficientStock(product_id, info.stock)
        lines = []
        for product_id, quantity in wanted.items():
            info = self.products[product_id]
            self.products[product_id] = replace(info, stock=info.stock - quantity)
            line = ReservedLine(
                product_id=product_id, quantity=quantity, unit_price=info.price, currency=info.currency, name=info.name
            )
            lines.append(reserved_line_message(line))
        return lines

    def _give_back(self, reservation: _Reservation) -> None:
        for line in reservation.lines:
            product_id = uuid.UUID(line.product_id)
            info = self.products[product_id]
            self.products[product_id] = replace(info, stock=info.stock + line.quantity)

    def _wait(self, rpc: str) -> None:
        with self._lock:
            self.calls[rpc] += 1
            if rpc in self.unavailable:
                raise ProductsServiceUnavailable(f"{rpc} is switched off in this test")
        if self.delay_seconds > 0:
            time.sleep(self.delay_seconds)


def _parse_uuid(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


def _order_id(raw: str) -> uuid.UUID:
    order_id = _parse_uuid(raw)
    if order_id is None:
        raise InvalidArgument("order_id must be a UUID.")
    return order_id


def _parse_lines(lines: Any) -> dict[uuid.UUID, int]:
    if not lines:
        raise InvalidArgument("A reservation needs at least one line.")
    if len(lines) > MAX_LINES:
        raise InvalidArgument(f"A reservation has at most {MAX_LINES} lines.")
    wanted: dict[uuid.UUID, int] = {}
    for line in lines:
        product_id = _parse_uuid(line.product_id)
        if product_id is None:
            raise InvalidArgument("product_id must be a UUID.")
        if not 1 <= line.quantity <= MAX_QUANTITY:
            raise InvalidArgument(f"quantity must be between 1 and {MAX_QUANTITY}.")
        if product_id in wanted:
            raise InvalidArgument("Each product may appear only once in a reservation.")
        wanted[product_id] = line.quantity
    return wanted


def start_fake_products(tls: TlsFiles) -> tuple[FakeProducts, RunningServer]:
    """Start the fake on a free local port (no database involved), serving mutual TLS with `tls` (products'
    identity) and authorizing callers as the real service does."""
    fake = FakeProducts()
    running = build_server(
        register=lambda server: product_pb2_grpc.add_ProductServiceServicer_to_server(fake, server),
        service_names=[SERVICE_NAME],
        bind="127.0.0.1",
        port=0,
        credentials=server_credentials(tls),
        callers=method_callers(SERVICE_NAME, CALLERS),
        max_workers=4,
        django_db=False,
    )
    fake.target = f"127.0.0.1:{running.port}"
    return fake, running


@pytest.fixture(scope="session")
def _fake_products_server(grpc_pki: GrpcTestPki) -> Iterator[FakeProducts]:
    fake, running = start_fake_products(grpc_pki.identity("products"))
    yield fake
    running.stop(grace_seconds=0)


@pytest.fixture
def fake_products(_fake_products_server: FakeProducts, settings: Any) -> Iterator[FakeProducts]:
    """A clean in-memory products service; `shopkit.grpc.products.products_client()` talks to it."""
    fake = _fake_products_server
    fake.reset()
    settings.PRODUCTS_GRPC_TARGET = fake.target
    reset_products_client()
    yield fake
    reset_products_client()
    fake.reset()
