"""The one base application error; each app defines an error-code Enum and raises ApplicationError."""

from __future__ import annotations

import enum
from typing import Any


class ErrorCode(enum.StrEnum):
    """Base for per-app error-code enums; the value is the problem's `type` slug."""


class ApplicationError(Exception):
    """A failure a client can act on: maps to a problem-details response (or a gRPC status).

    `headers` go out with the HTTP answer (`Retry-After`, `WWW-Authenticate`); gRPC has no use for them.
    """

    status: int = 400
    title: str = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        code: str | enum.Enum = "bad-request",
        status: int | None = None,
        title: str | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code.value if isinstance(code, enum.Enum) else code
        if status is not None:
            self.status = status
        if title is not None:
            self.title = title
        self.extra = extra or {}
        self.headers = headers or {}


class NotFound(ApplicationError):
    status = 404
    title = "Not found"


class Conflict(ApplicationError):
    status = 409
    title = "Conflict"


class Unprocessable(ApplicationError):
    status = 422
    title = "Unprocessable request"


class PermissionDenied(ApplicationError):
    status = 403
    title = "Forbidden"


class Unauthenticated(ApplicationError):
    status = 401
    title = "Unauthorized"


class ServiceUnavailable(ApplicationError):
    status = 503
    title = "Service unavailable"
