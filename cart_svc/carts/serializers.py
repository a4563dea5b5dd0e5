"""Input and output serializers of the cart API (validation and rendering only, no business rules)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from cart_svc.carts.models import MAX_LINE_QUANTITY, MIN_LINE_QUANTITY


class StrictIntegerField(serializers.IntegerField):
    """Only a JSON integer: DRF's default would also take "2", 2.0 and "2.000"."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        value: int = super().to_internal_value(data)
        return value


def _quantity_field() -> StrictIntegerField:
    return StrictIntegerField(min_value=MIN_LINE_QUANTITY, max_value=MAX_LINE_QUANTITY)


class CartItemAddInputSerializer(serializers.Serializer[Any]):
    product_id = serializers.UUIDField()
    quantity = _quantity_field()


class CartItemSetInputSerializer(serializers.Serializer[Any]):
    quantity = _quantity_field()


class CartLineOutputSerializer(serializers.Serializer[Any]):
    product_id = serializers.UUIDField()
    name = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=2)
    line_total = serializers.DecimalField(max_digits=14, decimal_places=2)


class CartOutputSerializer(serializers.Serializer[Any]):
    lines = CartLineOutputSerializer(many=True)
    total = serializers.DecimalField(max_digits=16, decimal_places=2)
    currency = serializers.CharField()
    stale = serializers.BooleanField()
