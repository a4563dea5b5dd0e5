"""Error codes and application errors of the catalog (problem details over HTTP, statuses over gRPC).

Products' refusals (unknown or inactive product, insufficient stock, a reservation not found or
released) are the classes its gRPC clients catch, from the shared contract
(shopkit.grpc.product_contract): the catalog raises them, over HTTP and gRPC alike.
"""

from __future__ import annotations

import uuid
from typing import Any

from shopkit.errors import ApplicationError, Conflict, ErrorCode
from shopkit.grpc.product_contract import (
    InsufficientStock,
    ProductNotFound,
    ProductUnavailable,
    ReservationNotFound,
    ReservationReleased,
)

__all__ = [
    "CatalogErrorCode",
    "CatalogValidationError",
    "CategoryNotFound",
    "InsufficientStock",
    "InvalidReservation",
    "ProductNotFound",
    "ProductUnavailable",
    "ReservationNotFound",
    "ReservationReleased",
    "StockBelowAllocated",
    "UniqueValueTaken",
]


class CatalogErrorCode(ErrorCode):
    CATEGORY_NOT_FOUND = "category-not-found"
    SKU_TAKEN = "sku-taken"
    SLUG_TAKEN = "slug-taken"
    INVALID_RESERVATION = "invalid-reservation"
    STOCK_BELOW_ALLOCATED = "stock-below-allocated"
    VALIDATION_ERROR = "validation-error"


class CategoryNotFound(ApplicationError):
    """An unknown category named in a write: a field error of that request (400)."""

    def __init__(self, slug: str) -> None:
        super().__init__(
            "The category does not exist.",
            code=CatalogErrorCode.CATEGORY_NOT_FOUND,
            extra={"errors": {"category": [f"No category with slug '{slug}'."]}},
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


class InvalidReservation(ApplicationError):
    def __init__(self, detail: str) -> None:
        super().__init__(detail, code=CatalogErrorCode.INVALID_RESERVATION)


class CatalogValidationError(ApplicationError):
    def __init__(self, errors: dict[str, Any]) -> None:
        super().__init__("The request is invalid.", code=CatalogErrorCode.VALIDATION_ERROR, extra={"errors": errors})
