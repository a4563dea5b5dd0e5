"""ApplicationError <-> gRPC status: one mapping used by every server and every client."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import grpc

from shopkit.errors import ApplicationError

# Trailing-metadata keys: the error's code and its scalar extras, so a client can rebuild the error.
ERROR_CODE_KEY = "shop-error-code"
ERROR_EXTRA_PREFIX = "shop-error-"

_STATUS_FOR_HTTP: dict[int, grpc.StatusCode] = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.FAILED_PRECONDITION,
    422: grpc.StatusCode.FAILED_PRECONDITION,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    503: grpc.StatusCode.UNAVAILABLE,
}


def status_code_for(error: ApplicationError) -> grpc.StatusCode:
    """The gRPC status of an application error, from its HTTP status (the two vocabularies line up)."""
    return _STATUS_FOR_HTTP.get(error.status, grpc.StatusCode.INVALID_ARGUMENT)


def error_trailing_metadata(error: ApplicationError) -> tuple[tuple[str, str], ...]:
    """The error's code and its scalar extras (`product_id`, `available`) as trailing metadata."""
    pairs: list[tuple[str, str]] = [(ERROR_CODE_KEY, error.code)]
    for name, value in error.extra.items():
        if isinstance(value, str | int | float | bool | uuid.UUID):
            pairs.append((ERROR_EXTRA_PREFIX + name.replace("_", "-").lower(), str(value)))
    return tuple(pairs)


def error_details(metadata: Sequence[Any] | None) -> dict[str, str]:
    """Read back what `error_trailing_metadata` wrote: `{"code": ..., "product_id": ..., "available": ...}`."""
    details: dict[str, str] = {}
    for item in metadata or ():
        key, value = item[0], item[1]
        if not isinstance(key, str) or not key.startswith(ERROR_EXTRA_PREFIX) or not isinstance(value, str):
            continue
        details[key.removeprefix(ERROR_EXTRA_PREFIX).replace("-", "_")] = value
    return details


def method_labels(full_method: str) -> tuple[str, str]:
    """`/shop.product.v1.ProductService/GetProduct` -> (`shop.product.v1.ProductService`, `GetProduct`)."""
    service, _, method = full_method.lstrip("/").rpartition("/")
    return service or "unknown", method or "unknown"
