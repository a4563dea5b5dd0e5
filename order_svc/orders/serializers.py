"""Request and response shapes of the orders API (docs/contracts.md "orders")."""

from __future__ import annotations

from rest_framework import serializers

from order_svc.orders.models import Order, OrderLine, OrderStatusChange
from order_svc.orders.selectors import MAX_PAGE, MAX_PAGE_SIZE


class PaginationSerializer(serializers.Serializer[dict[str, int]]):
    page = serializers.IntegerField(min_value=1, max_value=MAX_PAGE, default=1)
    page_size = serializers.IntegerField(min_value=1, max_value=MAX_PAGE_SIZE, default=20)


class OrderLineOutputSerializer(serializers.ModelSerializer[OrderLine]):
    class Meta:
        model = OrderLine
        fields = ("product_id", "name", "quantity", "unit_price", "line_total")


class OrderStatusChangeOutputSerializer(serializers.ModelSerializer[OrderStatusChange]):
    class Meta:
        model = OrderStatusChange
        fields = ("status", "at", "note")


class OrderOutputSerializer(serializers.ModelSerializer[Order]):
    lines = OrderLineOutputSerializer(many=True, read_only=True)
    history = OrderStatusChangeOutputSerializer(many=True, read_only=True)

    class Meta:
        model = Order
        fields = ("id", "status", "lines", "total", "currency", "created_at", "updated_at", "history")
