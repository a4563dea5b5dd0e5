"""Everything of shopkit that needs Django REST framework (the [drf] extra): authentication, body parser, errors.

The DRF services name these in REST_FRAMEWORK (shopkit.base_settings); the gateway (Django Ninja) never
imports this module, so it runs without DRF, django.contrib.auth and contenttypes.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import IO, Any

import structlog
from rest_framework import authentication, exceptions
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from shopkit.auth import Claims, InvalidToken, KeysUnavailable, TokenUser, bearer_token, verify_access_token
from shopkit.errors import ApplicationError
from shopkit.parsers import load_json_object
from shopkit.problems import PROBLEM_CONTENT_TYPE, problem_body, status_slug


class KeysUnavailableError(exceptions.APIException):
    status_code = 503
    default_detail = "Token keys are unavailable; try again shortly."
    default_code = "keys_unavailable"


class JWTAuthentication(authentication.BaseAuthentication):
    """DRF authentication: `Authorization: Bearer <access token>` issued by the users service."""

    www_authenticate_realm = "shop"

    def authenticate(self, request: Any) -> tuple[TokenUser, Claims] | None:
        header = request.headers.get("Authorization")
        if header is None:
            return None
        token = bearer_token(request)
        if token is None:
            raise exceptions.AuthenticationFailed("The Authorization header must be 'Bearer <token>'.")
        try:
            claims = verify_access_token(token)
        except InvalidToken as exc:
            raise exceptions.AuthenticationFailed(f"Invalid access token: {exc}.") from exc
        except KeysUnavailable as exc:
            raise KeysUnavailableError from exc
        structlog.contextvars.bind_contextvars(user_id=str(claims.user_id))
        return TokenUser(claims), claims

    def authenticate_header(self, request: Any) -> str:
        return f'Bearer realm="{self.www_authenticate_realm}"'


def caller_id(request: Any) -> uuid.UUID:
    """The id of the caller as its access token names it (JWTAuthentication): nobody can name another user.

    An endpoint with IsAuthenticated never gets here without one; NotAuthenticated (401) guards the rest.
    """
    if not isinstance(request.user, TokenUser):
        raise exceptions.NotAuthenticated
    return request.user.id


class JSONObjectParser(JSONParser):
    """DRF's parser for every service (REST_FRAMEWORK's DEFAULT_PARSER_CLASSES): shopkit.parsers.load_json_object."""

    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        return load_json_object(stream.read())


def _flatten_drf_errors(data: Any) -> dict[str, Any]:
    if isinstance(data, dict):
        return {str(k): v if isinstance(v, list | dict) else [str(v)] for k, v in data.items()}
    if isinstance(data, list):
        return {"non_field_errors": [str(item) for item in data]}
    return {"non_field_errors": [str(data)]}


def drf_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every API error becomes problem details."""
    # Imported here: rest_framework.views loads DEFAULT_AUTHENTICATION_CLASSES (this module) when it loads.
    from rest_framework.views import exception_handler as drf_default_handler

    if isinstance(exc, ApplicationError):
        body = problem_body(exc.status, detail=exc.detail, title=exc.title, code=exc.code, **exc.extra)
        return Response(body, status=exc.status, headers=exc.headers, content_type=PROBLEM_CONTENT_TYPE)
    response = drf_default_handler(exc, context)
    if response is None:
        return None  # unhandled: ProblemMiddleware logs it once and answers 500
    status = response.status_code
    if isinstance(exc, exceptions.ValidationError):
        body = problem_body(
            status, detail="The request is invalid.", code="validation-error", errors=_flatten_drf_errors(exc.detail)
        )
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        body = problem_body(status, detail=str(detail), code=getattr(exc, "default_code", None) and status_slug(status))
    response.data = body
    response.content_type = PROBLEM_CONTENT_TYPE
    return response
