"""URL routes of the orders service."""

from django.urls import include, path

from shopkit.urls import handler400, handler403, handler404, handler500, platform_urlpatterns

urlpatterns = [
    *platform_urlpatterns(),
    path("api/", include("order_svc.orders.urls")),
]

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
