"""Admin views of the outbox and the processed events, for staff investigating delivery; dead rows can be requeued."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from shopkit.events.models import OutboxEvent, ProcessedEvent
from shopkit.events.services import outbox_requeue_dead


class _ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DeadListFilter(admin.SimpleListFilter):
    title = "delivery"
    parameter_name = "delivery"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("dead", "Dead (the relay gave up)"), ("pending", "Not yet sent"), ("sent", "Sent")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "dead":
            return queryset.filter(sent_at__isnull=True, dead_at__isnull=False)
        if self.value() == "pending":
            return queryset.filter(sent_at__isnull=True, dead_at__isnull=True)
        if self.value() == "sent":
            return queryset.filter(sent_at__isnull=False)
        return queryset


@admin.register(OutboxEvent)
class OutboxEventAdmin(_ReadOnlyAdmin):
    list_display = ("id", "event_type", "topic", "key", "created_at", "sent_at", "attempts", "dead_at", "last_error")
    list_filter = (DeadListFilter, "topic", "event_type")
    search_fields = ("=id", "=key")
    date_hierarchy = "created_at"
    actions = ("requeue_dead_rows",)

    def has_requeue_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("shop_events.change_outboxevent")

    @admin.action(description="Publish selected dead rows again", permissions=["requeue"])
    def requeue_dead_rows(self, request: HttpRequest, queryset: QuerySet[OutboxEvent]) -> None:
        requested_by = getattr(request.user, "email", "") or request.user.get_username()
        requeued = outbox_requeue_dead(event_ids=list(queryset.values_list("id", flat=True)), requested_by=requested_by)
        self.message_user(
            request,
            f"{len(requeued)} dead row(s) will be published again, then the rows of their keys held behind them.",
            messages.SUCCESS if requeued else messages.WARNING,
        )


@admin.register(ProcessedEvent)
class ProcessedEventAdmin(_ReadOnlyAdmin):
    list_display = ("event_id", "consumer_group", "event_type", "topic", "created_at")
    list_filter = ("consumer_group", "event_type")
    search_fields = ("=event_id",)
