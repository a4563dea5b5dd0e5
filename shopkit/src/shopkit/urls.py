"""URL patterns every service mounts: health, metrics and the admin."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.urls import URLPattern, URLResolver, include, path

from shopkit.metrics import metrics_view

_CONSTANT = {"id": "00000000-0000-0000-0000-000000000000", "name": "constant", "price": "1.00", "currency": "USD"}


def bench_constant(request: HttpRequest) -> JsonResponse:
    """A constant JSON answer through the full middleware stack: the framework-cost benchmark's reference."""
    return JsonResponse(_CONSTANT)


def platform_urlpatterns(*, admin_site: bool = True) -> list[URLPattern | URLResolver]:
    patterns: list[URLPattern | URLResolver] = [
        path("", include("shopkit.health")),
        path("metrics", metrics_view, name="prometheus-django-metrics"),
    ]
    if admin_site:
        # Imported here: the gateway mounts no admin and runs without django.contrib.auth.
        from django.contrib import admin

        patterns.append(path("admin/", admin.site.urls))
    if settings.SHOP_BENCH_ENDPOINTS:
        patterns.append(path("_bench/constant", bench_constant))
    return patterns


handler400 = "shopkit.problems.handler400"
handler403 = "shopkit.problems.handler403"
handler404 = "shopkit.problems.handler404"
handler500 = "shopkit.problems.handler500"
