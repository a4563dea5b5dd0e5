"""Routes for the shared package's own tests of problems, auth and health (not the events app)."""

import uuid
from typing import Any

from django.db import OperationalError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.urls import path
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from shopkit.errors import Conflict, ServiceUnavailable
from shopkit.urls import handler400, handler403, handler404, handler500, platform_urlpatterns
from shopkit_tests.models import HandlerEffect


class _Payload(serializers.Serializer[Any]):
    quantity = serializers.IntegerField(min_value=1, max_value=99)


class WhoAmI(APIView):
    def get(self, request: Request) -> Response:
        return Response({"user_id": str(request.user.id), "is_staff": request.user.is_staff})


class Validate(APIView):
    permission_classes = [AllowAny]

    def post(self, request: Request) -> Response:
        _Payload(data=request.data).is_valid(raise_exception=True)
        return Response({"ok": True})


class Store(APIView):
    """Stores the body's `text` as it comes (no serializer, so no field validator to hide behind) and echoes it."""

    permission_classes = [AllowAny]

    def post(self, request: Request) -> Response:
        text = request.data.get("text", "")
        HandlerEffect.objects.create(event_id=uuid.uuid4(), consumer_group="parsers", order_id=str(text))
        return Response({"text": text, "keys": sorted(request.data)})


class Fail(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request, kind: str) -> Response:
        if kind == "conflict":
            raise Conflict("The thing is taken.", code="thing-taken", extra={"thing_id": "42"})
        if kind == "busy":
            raise ServiceUnavailable("Busy; try again.", code="busy", headers={"Retry-After": "7"})
        if kind == "database":
            raise OperationalError("connection refused")
        raise RuntimeError("secret internal detail")


def plain_404(request: HttpRequest) -> HttpResponse:
    raise Http404("nope")


def plain_busy(request: HttpRequest) -> HttpResponse:
    raise ServiceUnavailable("Busy; try again.", code="busy", headers={"Retry-After": "7"})


def plain_405(request: HttpRequest) -> HttpResponse:
    return HttpResponseNotAllowed(["POST"])


urlpatterns = [
    *platform_urlpatterns(),
    path("api/whoami", WhoAmI.as_view()),
    path("api/validate", Validate.as_view()),
    path("api/store", Store.as_view()),
    path("api/fail/<str:kind>", Fail.as_view()),
    path("plain/404", plain_404),
    path("plain/405", plain_405),
    path("plain/busy", plain_busy),
]

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
