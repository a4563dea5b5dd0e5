"""The public API (Django Ninja, async): routers, problem-details error handlers, the OpenAPI document."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, AuthorizationError, HttpError, ValidationError

from gateway_svc.auth import not_authenticated
from gateway_svc.errors import GatewayError, GatewayErrorCode
from gateway_svc.routes import accounts, carts, catalog, health, orders
from shopkit.errors import ApplicationError
from shopkit.logging import get_logger
from shopkit.ninja_parser import JSONObjectNinjaParser
from shopkit.problems import PROBLEM_CONTENT_TYPE, problem_response

log = get_logger(__name__)


class GatewayAPI(NinjaAPI):
    def get_openapi_schema(self, **kwargs: Any) -> Any:
        """Error responses are documented as `application/problem+json`, which is what they are."""
        schema = super().get_openapi_schema(**kwargs)
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    if int(status) >= 400 and "application/json" in content:
                        response["content"] = {PROBLEM_CONTENT_TYPE: content["application/json"]}
        return schema


api = GatewayAPI(
    title="Shop API",
    version="1.0.0",
    description="The shop's public API. Every error is RFC 9457 problem details with a `trace_id`.",
    urls_namespace="api",
    # The services' own rules for bodies (shopkit.parsers): one object, bounded, storable text.
    parser=JSONObjectNinjaParser(),
)
api.add_router("", accounts.router)
api.add_router("", catalog.router)
api.add_router("", carts.router)
api.add_router("", orders.router)
api.add_router("", health.router)


def _field_errors(errors: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Ninja's error list as `{field: [messages]}`; body fields lose the view's parameter name."""
    fields: dict[str, list[str]] = {}
    for error in errors:
        source, *parts = [str(part) for part in error.get("loc", ())] or ["request"]
        if source == "body":
            parts = parts[1:]
        field = ".".join(parts) or source
        fields.setdefault(field, []).append(str(error.get("msg", "Invalid value.")))
    return fields


@api.exception_handler(ValidationError)
def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return problem_response(
        400,
        detail="The request is invalid.",
        code=GatewayErrorCode.VALIDATION_ERROR.value,
        errors=_field_errors(exc.errors),
    )


@api.exception_handler(GatewayError)
def gateway_error(request: HttpRequest, exc: GatewayError) -> HttpResponse:
    return problem_response(
        exc.status, detail=exc.detail, title=exc.title, code=exc.code, headers=exc.headers, **exc.extra
    )


@api.exception_handler(ApplicationError)
def application_error(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    return problem_response(exc.status, detail=exc.detail, title=exc.title, code=exc.code, **exc.extra)


@api.exception_handler(AuthenticationError)
def authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return gateway_error(request, not_authenticated())


@api.exception_handler(AuthorizationError)
def authorization_error(request: HttpRequest, exc: AuthorizationError) -> HttpResponse:
    return problem_response(403, detail="You may not do this.")


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 400 and isinstance(exc.__cause__, ApplicationError):
        # Ninja wraps what the parser raised: its problem says what is wrong with the body.
        return application_error(request, exc.__cause__)
    if exc.status_code == 400:
        # Ninja raises this for a body it cannot parse.
        return problem_response(400, detail="The body is not valid JSON.", code=GatewayErrorCode.MALFORMED_JSON.value)
    return problem_response(exc.status_code, detail=str(exc))


@api.exception_handler(Http404)
def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return problem_response(404, detail=f"No resource at {request.path}.")


@api.exception_handler(Exception)
def unexpected_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    if isinstance(exc, RequestDataTooBig):
        return problem_response(
            413, detail="The request body is too large.", code=GatewayErrorCode.BODY_TOO_LARGE.value
        )
    log.error("unhandled_exception", exc_info=exc, method=request.method, path=request.path)
    return problem_response(500, detail="An unexpected error occurred; it has been logged.")
