"""Staff view of orders: read-only, with lines and history; cancelling goes through `order_cancel`."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from order_svc.orders.models import Order, OrderLine, OrderStatusChange
from order_svc.orders.services import CancelReason, order_cancel
from shopkit.errors import ApplicationError


class _ReadOnlyInline(admin.TabularInline):  # type: ignore[type-arg]
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class OrderLineInline(_ReadOnlyInline):
    model = OrderLine
    fields = ("product_id", "name", "quantity", "unit_price", "line_total")


class OrderStatusChangeInline(_ReadOnlyInline):
    model = OrderStatusChange
    fields = ("status", "at", "note")


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("id", "user_id", "status", "total", "currency", "created_at")
    list_filter = ("status", "created_at")
    date_hierarchy = "created_at"
    search_fields = ("=id", "=user_id")
    ordering = ("-created_at",)
    inlines = (OrderLineInline, OrderStatusChangeInline)
    actions = ("cancel_orders",)
    readonly_fields = (
        "id",
        "user_id",
        "status",
        "total",
        "currency",
        "idempotency_key",
        "requested_lines",
        "failure_reason",
        "failure_product_id",
        "failure_available",
        "created_at",
        "updated_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Order], search_term: str
    ) -> tuple[QuerySet[Order], bool]:
        # Ids are UUIDs: a term that is not one matches nothing instead of failing the lookup.
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            value = uuid.UUID(term)
        except ValueError:
            return queryset.none(), False
        return queryset.filter(id=value) | queryset.filter(user_id=value), False

    @admin.action(description="Cancel the selected orders (stock goes back)", permissions=["change"])
    def cancel_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        cancelled = 0
        for order in queryset.only("id", "user_id"):
            try:
                order_cancel(order_id=order.id, user_id=order.user_id, reason=CancelReason.STAFF)
            except ApplicationError as exc:
                self.message_user(request, f"Order {order.id}: {exc.detail}", level=messages.WARNING)
            else:
                cancelled += 1
        self.message_user(request, f"{cancelled} order(s) cancelled.", level=messages.SUCCESS)
