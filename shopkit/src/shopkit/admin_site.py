"""The admin site of every service: names its shop and service, links the other consoles, keeps staff sessions honest.

`ShopAdminConfig` replaces "django.contrib.admin" in every service's INSTALLED_APPS
(`shopkit.base_settings`), so `admin.site` and `@admin.register` are this site everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.template.response import TemplateResponse
from django.utils.module_loading import import_string

from shopkit.staff_session import staff_session_begin, staff_session_close


@dataclass(frozen=True)
class Console:
    name: str
    url: str
    current: bool


class ShopAdminSite(admin.AdminSite):
    """Django's admin site with the shop's branding, console links and the staff-session hand-over."""

    # The services serve no public site at "/": no "View site" link.
    site_url = None

    @staticmethod
    def header() -> str:
        """The shop (SHOP_NAME) and this service, e.g. "Shop · orders": every page's header and title."""
        return f"{settings.SHOP_NAME} · {settings.SERVICE_NAME}"

    @staticmethod
    def consoles() -> list[Console]:
        return [
            Console(name=name, url=url, current=name == settings.SERVICE_NAME)
            for name, url in settings.SHOP_ADMIN_CONSOLES.items()
        ]

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        header = self.header()
        return {
            **super().each_context(request),
            "site_header": header,
            "site_title": header,
            "shop_consoles": self.consoles(),
        }

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        response = super().login(request, extra_context)
        if request.method == "POST" and request.user.is_authenticated:
            staff_session_begin(request)
        return response

    def logout(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        if request.method == "POST":
            staff_session_close(request)
        return super().logout(request, extra_context)

    # django-stubs says TemplateResponse; the view redirects once the password is changed.
    def password_change(  # type: ignore[override]
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponseBase:
        # A service whose passwords live here (users) changes them through its own services.
        if not settings.SHOP_ADMIN_PASSWORD_CHANGE_FORM:
            return super().password_change(request, extra_context)
        from django.contrib.auth.views import PasswordChangeView
        from django.urls import reverse

        request.current_app = self.name
        return PasswordChangeView.as_view(
            form_class=import_string(settings.SHOP_ADMIN_PASSWORD_CHANGE_FORM),
            success_url=reverse("admin:password_change_done", current_app=self.name),
            extra_context={**self.each_context(request), **(extra_context or {})},
            **({"template_name": self.password_change_template} if self.password_change_template else {}),
        )(request)


class ShopAdminConfig(AdminConfig):
    default_site = "shopkit.admin_site.ShopAdminSite"
