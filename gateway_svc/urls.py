"""URL routes of the gateway service: the public API, health and metrics (no admin: it has no database)."""

from django.urls import path

from gateway_svc.api import api
from gateway_svc.health import ready
from shopkit.urls import handler400, handler403, handler404, handler500, platform_urlpatterns

urlpatterns = [
    path("api/", api.urls),
    # First match wins: the gateway's readiness (cache and downstreams) replaces the platform's database check.
    path("health/ready", ready, name="health-ready"),
    *platform_urlpatterns(admin_site=False),
]

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
