"""Error codes and application errors of the catalog (problem details over HTTP, statuses over gRPC).

The codes of stock and product errors are the ones `shopkit.grpc.products` reads back from gRPC
trailing metadata, so the client can rebuild the same error.
"""

from __future__ import annotations

import uuid
from typing import Any

from shopkit.errors import ApplicationError, Conflict, ErrorCode, NotFound


class CatalogErrorCode(ErrorCode):
    PRODUCT_NOT_FOUND = "product-not-found"
    CATEGORY_NOT_FOUND = "category-not-found"
    INSUFFICIENT_STOCK = "insufficient-stock"
    PRODUCT_UNAVAILABLE = "product-unavailable"
    SKU_TAKEN = "sku-taken"
    SLUG_TAKEN = "slug-taken"
    INVALID_RESERVATION = "invalid-reservation"
    RESERVATION_NOT_FOUND = "reservation-not-found"
    RESERVATION_RELEASED = "reservation-released"
    STOCK_BELOW_ALLOCATED = "stock-below-allocated"
    VALIDATION_ERROR = "validation-error"


class ProductNotFound(NotFound):
    def __init__(self, product_id: uuid.UUID | str | None = None) -> None:
        super().__init__(
            "The product does not exist.",
            code=CatalogErrorCode.PRODUCT_NOT_FOUND,
            extra={"product_id": str(product_id)} if product_id is not None else {},
        )


class CategoryNotFound(ApplicationError):
    """An unknown category named in a write: a field error of that request (400)."""

    def __init__(self, slug: str) -> None:
        super().__init__(
            "The category does not exist.",
            code=CatalogErrorCode.CATEGORY_NOT_FOUND,
            extra={"errors": {"category": [f"No category with slug '{slug}'."]}},
        )


class InsufficientStock(Conflict):
    def __init__(self, *, product_id: uuid.UUID, available: int) -> None:
        self.product_id = product_id
        self.available = available
        super().__init__(
            f"Only {available} unit(s) of the product are in stock.",
            code=CatalogErrorCode.INSUFFICIENT_STOCK,
            extra={"product_id": str(product_id), "available": available},
        )


class ProductUnavailable(Conflict):
    def __init__(self, *, product_id: uuid.UUID) -> None:
        super().__init__(
            "The product is not available.",
            code=CatalogErrorCode.PRODUCT_UNAVAILABLE,
            extra={"product_id": str(product_id)},
        )


class UniqueValueTaken(Conflict):
    def __init__(self, *, field: str, code: CatalogErrorCode) -> None:
        super().__init__(
            f"Another product already uses this {field}.",
            code=code,
            extra={"errors": {field: [f"Another product already uses this {field}."]}},
        )


class StockBelowAllocated(Conflict):
    """Staff set on hand below what checkouts allocated: those units are owed to orders."""

    def __init__(self, *, product_id: uuid.UUID, allocated: int) -> None:
        super().__init__(
            f"{allocated} unit(s) are allocated to orders: on hand cannot be less.",
            code=CatalogErrorCode.STOCK_BELOW_ALLOCATED,
            extra={
                "product_id": str(product_id),
                "allocated": allocated,
                "errors": {"stock_on_hand": [f"At least {allocated} (allocated to orders)."]},
            },
        )


class ReservationNotFound(NotFound):
    def __init__(self, *, order_id: uuid.UUID) -> None:
        super().__init__(
            "The order has no reservation.",
            code=CatalogErrorCode.RESERVATION_NOT_FOUND,
            extra={"order_id": str(order_id)},
        )


class ReservationReleased(Conflict):
    """The reservation was released on purpose (failed checkout, cancelled order): it cannot be confirmed."""

    def __init__(self, *, order_id: uuid.UUID) -> None:
        super().__init__(
            "The order's reservation was released.",
            code=CatalogErrorCode.RESERVATION_RELEASED,
            extra={"order_id": str(order_id)},
        )


class InvalidReservation(ApplicationError):
    def __init__(self, detail: str) -> None:
        super().__init__(detail, code=CatalogErrorCode.INVALID_RESERVATION)


class CatalogValidationError(ApplicationError):
    def __init__(self, errors: dict[str, Any]) -> None:
        super().__init__("The request is invalid.", code=CatalogErrorCode.VALIDATION_ERROR, extra={"errors": errors})
