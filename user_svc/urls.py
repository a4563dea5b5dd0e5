"""URL routes of the users service."""

from django.urls import include, path

from shopkit.urls import handler400, handler403, handler404, handler500, platform_urlpatterns

urlpatterns = [
    path("api/", include("user_svc.accounts.urls")),
    *platform_urlpatterns(),
]

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
