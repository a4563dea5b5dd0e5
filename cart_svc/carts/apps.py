"""Django app config of the carts app."""

from __future__ import annotations

from django.apps import AppConfig


class CartsConfig(AppConfig):
    name = "cart_svc.carts"
    label = "carts"
    verbose_name = "Carts"
    default_auto_field = "django.db.models.BigAutoField"
