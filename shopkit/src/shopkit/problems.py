"""RFC 9457 problem-details responses for every error from Django and Ninja (DRF's handler: shopkit.drf)."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from django.db import InterfaceError as DatabaseInterfaceError
from django.db import OperationalError as DatabaseOperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse

from shopkit.dual_middleware import ResponseMiddleware
from shopkit.errors import ApplicationError
from shopkit.logging import get_logger
from shopkit.tracing import current_trace_id

log = get_logger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "https://shop.example/problems/"


def status_slug(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "-").replace("'", "")
    except ValueError:
        return "error"


def problem_body(
    status: int,
    *,
    detail: str,
    title: str | None = None,
    code: str | None = None,
    errors: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    try:
        default_title = HTTPStatus(status).phrase
    except ValueError:
        default_title = "Error"
    body: dict[str, Any] = {
        "type": TYPE_BASE + (code or status_slug(status)),
        "title": title or default_title,
        "status": status,
        "detail": detail,
        "trace_id": current_trace_id(),
    }
    if errors:
        body["errors"] = errors
    body.update(extra)
    return body


def problem_response(status: int, *, detail: str, headers: dict[str, str] | None = None, **kw: Any) -> JsonResponse:
    response = JsonResponse(problem_body(status, detail=detail, **kw), status=status, content_type=PROBLEM_CONTENT_TYPE)
    for key, value in (headers or {}).items():
        response[key] = value
    return response


def application_error_response(exc: ApplicationError) -> JsonResponse:
    return problem_response(
        exc.status, detail=exc.detail, title=exc.title, code=exc.code, headers=exc.headers, **exc.extra
    )


class ProblemMiddleware(ResponseMiddleware):
    """Turns unhandled exceptions and any non-JSON error response into problem details (WSGI and ASGI)."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        return self._convert(request, response)

    @staticmethod
    def _convert(request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if response.status_code >= 400 and not _is_json(response) and not _is_admin_page(request, response):
            detail = _default_detail(response.status_code, request)
            converted = problem_response(response.status_code, detail=detail)
            for header in ("Allow", "Retry-After", "WWW-Authenticate"):
                if header in response:
                    converted[header] = response[header]
            return converted
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, ApplicationError):
            return application_error_response(exception)
        from django.core.exceptions import BadRequest, RequestDataTooBig, SuspiciousOperation
        from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
        from django.http import Http404

        if isinstance(exception, Http404):
            return problem_response(404, detail="The resource was not found.")
        if isinstance(exception, DjangoPermissionDenied):
            return problem_response(403, detail="You may not do this.")
        if isinstance(exception, RequestDataTooBig):
            return problem_response(413, detail="The request body is too large.")
        if isinstance(exception, BadRequest | SuspiciousOperation):
            return problem_response(400, detail="The request is malformed.")
        if isinstance(exception, DatabaseOperationalError | DatabaseInterfaceError):
            # The database is down or unreachable: this service is unavailable, not broken.
            log.error("database_unavailable", error=str(exception), method=request.method, path=request.path)
            return problem_response(
                503, detail="The service's database is unavailable; try again shortly.", headers={"Retry-After": "5"}
            )
        log.error("unhandled_exception", exc_info=exception, method=request.method, path=request.path)
        return problem_response(500, detail="An unexpected error occurred; it has been logged.")


def _is_json(response: HttpResponse) -> bool:
    content_type = response.get("Content-Type", "")
    return "json" in content_type


def _is_admin_page(request: HttpRequest, response: HttpResponse) -> bool:
    # The admin renders its own HTML (login redirects, CSRF failures are forms a browser shows).
    return request.path.startswith("/admin/") and response.status_code in (403,)


def _default_detail(status: int, request: HttpRequest) -> str:
    if status == 404:
        return f"No resource at {request.path}."
    if status == 405:
        return f"Method {request.method} is not allowed here."
    if status == 413:
        return "The request body is too large."
    try:
        return HTTPStatus(status).description or HTTPStatus(status).phrase
    except ValueError:
        return "The request failed."


def handler404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return problem_response(404, detail=f"No resource at {request.path}.")


def handler500(request: HttpRequest) -> JsonResponse:
    return problem_response(500, detail="An unexpected error occurred; it has been logged.")


def handler400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return problem_response(400, detail="The request is malformed.")


def handler403(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return problem_response(403, detail="You may not do this.")


def parse_json_body(request: HttpRequest) -> Any:
    try:
        return json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApplicationError("The body is not valid JSON.", code="malformed-json") from exc
