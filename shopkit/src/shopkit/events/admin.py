"""Read-only admin views of the outbox and the processed events, for staff investigating delivery."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from shopkit.events.models import OutboxEvent, ProcessedEvent


class _ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(OutboxEvent)
class OutboxEventAdmin(_ReadOnlyAdmin):
    list_display = ("id", "event_type", "topic", "key", "created_at", "sent_at", "attempts")
    list_filter = ("topic", "event_type", ("sent_at", admin.EmptyFieldListFilter))
    search_fields = ("=id", "=key")
    date_hierarchy = "created_at"


@admin.register(ProcessedEvent)
class ProcessedEventAdmin(_ReadOnlyAdmin):
    list_display = ("event_id", "consumer_group", "event_type", "topic", "created_at")
    list_filter = ("consumer_group", "event_type")
    search_fields = ("=event_id",)
