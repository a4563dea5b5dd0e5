"""What products' gRPC server and its clients share beyond proto/: the refusals and the message conversions.

The refusals are one set of classes for both sides. products' services raise them; the server's error
interceptor (shopkit.grpc.server) sends each as its status, NOT_FOUND or FAILED_PRECONDITION, with its
code and fields (`product_id`, `available`, `order_id`) as trailing metadata (shopkit.grpc.status);
`error_from_rpc` raises the same class again in the client. The fake products service raises them too,
so a service's tests see exactly the errors the real service sends.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

import grpc

from shop.product.v1 import product_pb2
from shopkit.errors import ApplicationError, Conflict, ErrorCode, NotFound, ServiceUnavailable
from shopkit.grpc.status import error_details
from shopkit.logging import get_logger

log = get_logger(__name__)


class ProductsErrorCode(ErrorCode):
    """The codes products' refusals carry, over gRPC (trailing metadata) and HTTP (problem types) alike."""

    PRODUCT_NOT_FOUND = "product-not-found"
    PRODUCT_UNAVAILABLE = "product-unavailable"
    INSUFFICIENT_STOCK = "insufficient-stock"
    RESERVATION_NOT_FOUND = "reservation-not-found"
    RESERVATION_RELEASED = "reservation-released"
    INVALID_ARGUMENT = "invalid-argument"
    SERVICE_UNAVAILABLE = "products-unavailable"


def _uuid_or_none(value: object) -> uuid.UUID | None:
    if value is None or isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _named(name: str, value: uuid.UUID | str | None) -> dict[str, object]:
    return {name: str(value)} if value is not None else {}


class ProductRefusal(ApplicationError):
    """products refused a product of the call: unknown, not for sale, or short of stock.

    `product_id` is the product it names (None when the call named no well-formed id); `available`
    the units left, for InsufficientStock only.
    """

    product_id: uuid.UUID | None
    available: int | None = None


class ProductNotFound(NotFound, ProductRefusal):
    def __init__(self, product_id: uuid.UUID | str | None = None, detail: str = "The product does not exist.") -> None:
        self.product_id = _uuid_or_none(product_id)
        super().__init__(detail, code=ProductsErrorCode.PRODUCT_NOT_FOUND, extra=_named("product_id", product_id))


class ProductUnavailable(Conflict, ProductRefusal):
    """The product exists but is not for sale (inactive)."""

    def __init__(self, product_id: uuid.UUID | str | None, detail: str = "The product is not available.") -> None:
        self.product_id = _uuid_or_none(product_id)
        super().__init__(detail, code=ProductsErrorCode.PRODUCT_UNAVAILABLE, extra=_named("product_id", product_id))


class InsufficientStock(Conflict, ProductRefusal):
    def __init__(self, product_id: uuid.UUID | str | None, available: int, detail: str | None = None) -> None:
        self.product_id = _uuid_or_none(product_id)
        self.available = max(0, available)
        super().__init__(
            detail or f"Only {self.available} unit(s) of the product are in stock.",
            code=ProductsErrorCode.INSUFFICIENT_STOCK,
            extra={**_named("product_id", product_id), "available": self.available},
        )


class ReservationNotFound(NotFound):
    def __init__(self, order_id: uuid.UUID | str | None, detail: str = "The order has no reservation.") -> None:
        self.order_id = _uuid_or_none(order_id)
        super().__init__(detail, code=ProductsErrorCode.RESERVATION_NOT_FOUND, extra=_named("order_id", order_id))


class ReservationReleased(Conflict):
    """The order's reservation was released (failed checkout, cancelled order): it cannot be confirmed."""

    def __init__(self, order_id: uuid.UUID | str | None, detail: str = "The order's reservation was released.") -> None:
        self.order_id = _uuid_or_none(order_id)
        super().__init__(detail, code=ProductsErrorCode.RESERVATION_RELEASED, extra=_named("order_id", order_id))


class InvalidArgument(ApplicationError):
    """A malformed call (ids, quantities, too many lines): INVALID_ARGUMENT, whatever code the server named."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, code=ProductsErrorCode.INVALID_ARGUMENT)


class ProductsServiceUnavailable(ServiceUnavailable):
    def __init__(self, detail: str = "The products service is unavailable; try again shortly.") -> None:
        super().__init__(detail, code=ProductsErrorCode.SERVICE_UNAVAILABLE)


def error_from_rpc(exc: grpc.RpcError, *, product_id: uuid.UUID | str | None = None) -> ApplicationError:
    """The error the server raised, rebuilt from the status and its trailing metadata.

    `product_id`: the product the call named, for a NOT_FOUND that does not name one. Statuses outside
    the contract (UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, ...) are ProductsServiceUnavailable.
    """
    status = exc.code()
    message = exc.details() or ""
    details = error_details(exc.trailing_metadata())
    code = details.get("code", "")
    named = details.get("product_id") or product_id
    if status == grpc.StatusCode.NOT_FOUND:
        if code == ProductsErrorCode.RESERVATION_NOT_FOUND:
            return ReservationNotFound(details.get("order_id"), message or "The order has no reservation.")
        return ProductNotFound(named, message or "The product does not exist.")
    if status == grpc.StatusCode.FAILED_PRECONDITION:
        if code == ProductsErrorCode.RESERVATION_RELEASED:
            return ReservationReleased(details.get("order_id"), message or "The order's reservation was released.")
        if code == ProductsErrorCode.INSUFFICIENT_STOCK:
            return InsufficientStock(named, int(details.get("available", "0") or 0), message or None)
        return ProductUnavailable(named, message or "The product is not available.")
    if status == grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidArgument(message or "The request to the products service is invalid.")
    log.warning("products_grpc_failed", grpc_code=status.name if status else "UNKNOWN", detail=message)
    return ProductsServiceUnavailable()


# --- messages <-> values ----------------------------------------------------------------------------


class ProductFields(Protocol):
    """A product as the server's model and the client's ProductInfo both have it."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def sku(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def price(self) -> Decimal: ...
    @property
    def currency(self) -> str: ...
    @property
    def stock(self) -> int: ...
    @property
    def active(self) -> bool: ...


class ReservedLineFields(Protocol):
    """A reserved line as the server's model and the client's ReservedLine both have it."""

    @property
    def product_id(self) -> uuid.UUID: ...
    @property
    def quantity(self) -> int: ...
    @property
    def unit_price(self) -> Decimal: ...
    @property
    def currency(self) -> str: ...
    @property
    def name(self) -> str: ...


def product_message(product: ProductFields) -> product_pb2.Product:
    return product_pb2.Product(
        id=str(product.id),
        sku=product.sku,
        name=product.name,
        price=str(product.price),
        currency=product.currency,
        stock=product.stock,
        active=product.active,
    )


def reserved_line_message(line: ReservedLineFields) -> product_pb2.ReservedLine:
    return product_pb2.ReservedLine(
        product_id=str(line.product_id),
        quantity=line.quantity,
        unit_price=str(line.unit_price),
        currency=line.currency,
        name=line.name,
    )


@dataclass(frozen=True, slots=True)
class ProductInfo:
    id: uuid.UUID
    sku: str
    name: str
    price: Decimal
    currency: str
    stock: int
    active: bool

    @classmethod
    def from_message(cls, message: product_pb2.Product) -> ProductInfo:
        return cls(
            id=uuid.UUID(message.id),
            sku=message.sku,
            name=message.name,
            price=Decimal(message.price),
            currency=message.currency,
            stock=message.stock,
            active=message.active,
        )


@dataclass(frozen=True, slots=True)
class ReservedLine:
    product_id: uuid.UUID
    quantity: int
    unit_price: Decimal
    currency: str
    name: str

    @classmethod
    def from_message(cls, message: product_pb2.ReservedLine) -> ReservedLine:
        return cls(
            product_id=uuid.UUID(message.product_id),
            quantity=message.quantity,
            unit_price=Decimal(message.unit_price),
            currency=message.currency,
            name=message.name,
        )
