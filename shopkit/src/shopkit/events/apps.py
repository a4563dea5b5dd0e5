"""Django app config of the events package (label `shop_events`)."""

from __future__ import annotations

from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "shopkit.events"
    label = "shop_events"
    verbose_name = "Events (outbox)"
    default_auto_field = "django.db.models.BigAutoField"
