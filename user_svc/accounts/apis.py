"""REST API of the users service (DRF): parse input, call one service or selector, render output."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from shopkit.drf import caller_id
from user_svc.accounts import services, tokens
from user_svc.accounts.selectors import refresh_token_introspect, user_get
from user_svc.accounts.serializers import (
    IntrospectInputSerializer,
    IntrospectionOutputSerializer,
    LoginInputSerializer,
    PasswordChangeInputSerializer,
    ProfileUpdateInputSerializer,
    RefreshInputSerializer,
    RegisterInputSerializer,
    TokenPairOutputSerializer,
    UserOutputSerializer,
)


class PublicApi(APIView):
    """No access token needed; a stray or stale Authorization header must not break these."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]


class RegisterApi(PublicApi):
    def post(self, request: Request) -> Response:
        serializer = RegisterInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_register(**serializer.validated_data)
        return Response(UserOutputSerializer(user).data, status=201)


class LoginApi(PublicApi):
    def post(self, request: Request) -> Response:
        serializer = LoginInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pair = services.auth_login(**serializer.validated_data)
        return Response(TokenPairOutputSerializer(pair).data)


class RefreshApi(PublicApi):
    def post(self, request: Request) -> Response:
        serializer = RefreshInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pair = services.auth_refresh(refresh=serializer.validated_data["refresh"])
        return Response(TokenPairOutputSerializer(pair).data)


class LogoutApi(PublicApi):
    def post(self, request: Request) -> Response:
        serializer = RefreshInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.auth_logout(refresh=serializer.validated_data["refresh"])
        return Response(status=204)


class IntrospectApi(PublicApi):
    """Internal (the gateway does not route it): the other services' admins check their staff sessions.

    The token itself is the proof: only its holder learns whether it still works and whose it is.
    """

    def post(self, request: Request) -> Response:
        serializer = IntrospectInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        answer = refresh_token_introspect(token=serializer.validated_data["token"])
        response = Response(IntrospectionOutputSerializer(answer).data)
        response["Cache-Control"] = "no-store"
        return response


class MeApi(APIView):
    def get(self, request: Request) -> Response:
        user = user_get(user_id=caller_id(request))
        return Response(UserOutputSerializer(user).data)

    def patch(self, request: Request) -> Response:
        serializer = ProfileUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_profile_update(user_id=caller_id(request), **serializer.validated_data)
        return Response(UserOutputSerializer(user).data)


class PasswordChangeApi(APIView):
    def post(self, request: Request) -> Response:
        serializer = PasswordChangeInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.user_password_change(user_id=caller_id(request), **serializer.validated_data)
        return Response(status=204)


class JwksApi(PublicApi):
    def get(self, request: Request) -> Response:
        response = Response(tokens.jwks())
        # Verifiers cache the key; a rotation is picked up through their refetch on an unknown kid.
        response["Cache-Control"] = "public, max-age=300"
        return response
