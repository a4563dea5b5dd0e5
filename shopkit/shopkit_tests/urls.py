"""URL routes of the test project: the platform endpoints only."""

from shopkit.urls import platform_urlpatterns

urlpatterns = [*platform_urlpatterns()]
