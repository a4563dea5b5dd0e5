"""Django app config: wires tracing into every process that loads Django."""

from __future__ import annotations

from django.apps import AppConfig
from django.conf import settings


class ShopkitConfig(AppConfig):
    name = "shopkit"
    verbose_name = "Shop platform"

    def ready(self) -> None:
        from shopkit.logging import set_service_name
        from shopkit.tracing import instrument_django, setup_tracing

        set_service_name(settings.SERVICE_NAME)
        setup_tracing(settings.SERVICE_NAME)
        if not getattr(settings, "SHOP_TRACING_ASGI", False):  # async services: shopkit.tracing.wrap_asgi
            instrument_django()
