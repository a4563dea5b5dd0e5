"""Liveness and readiness endpoints: ready checks the database, the cache and any extra checks."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.dummy import DummyCache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.utils.module_loading import import_string
from django.views.decorators.http import require_GET

from shopkit.logging import get_logger
from shopkit.problems import problem_response

log = get_logger(__name__)

Check = Callable[[], None]


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_cache() -> None:
    if isinstance(caches["default"], DummyCache):  # caching configured off: nothing to check
        return
    key = f"health:{time.monotonic_ns()}"
    cache.set(key, "1", timeout=5)
    if cache.get(key) != "1":
        raise RuntimeError("cache did not return the value just written")
    cache.delete(key)


def _checks() -> dict[str, Check]:
    checks: dict[str, Check] = {"database": check_database, "cache": check_cache}
    for name, dotted in getattr(settings, "SHOP_READY_CHECKS", {}).items():
        checks[name] = import_string(dotted)
    return checks


@require_GET
def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok", "service": settings.SERVICE_NAME})


@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    results: dict[str, str] = {}
    healthy = True
    for name, check in _checks().items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready", reported not raised
            healthy = False
            results[name] = f"error: {type(exc).__name__}"
            log.warning("readiness_check_failed", check=name, error=str(exc))
    if not healthy:
        return problem_response(
            503, detail="A dependency is unavailable.", service=settings.SERVICE_NAME, checks=results
        )
    return JsonResponse({"status": "ok", "service": settings.SERVICE_NAME, "checks": results})


urlpatterns = [
    path("health/live", live, name="health-live"),
    path("health/ready", ready, name="health-ready"),
]
