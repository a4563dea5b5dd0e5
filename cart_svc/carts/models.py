"""Carts: one per customer (users live in another service, so only their id is kept) and its lines."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

MIN_LINE_QUANTITY = 1
MAX_LINE_QUANTITY = 99
# One cart becomes one order, and an order (and a stock reservation) holds at most 100 lines.
MAX_CART_LINES = 100
PRODUCT_NAME_MAX_LENGTH = 200


class Cart(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # The customer's id from the access token; no foreign key, users are another service's data.
    user_id = models.UUIDField(unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-updated_at",)

    def __str__(self) -> str:
        return f"Cart of {self.user_id}"


class CartLine(models.Model):
    """A product in a cart, with the name, price and currency products last told us (shown when it is down)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="lines")
    product_id = models.UUIDField(editable=False)
    quantity = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=PRODUCT_NAME_MAX_LENGTH, help_text="Product name when last added or set.")
    unit_price = models.DecimalField(max_digits=10, decimal_places=2, help_text="Price when last added or set.")
    currency = models.CharField(max_length=3, help_text="Currency of the price when last added or set.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("created_at", "id")
        constraints = (
            models.CheckConstraint(
                condition=Q(quantity__gte=MIN_LINE_QUANTITY) & Q(quantity__lte=MAX_LINE_QUANTITY),
                name="carts_line_quantity_1_to_99",
            ),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="carts_line_unit_price_gte_0"),
            models.UniqueConstraint(fields=("cart", "product_id"), name="carts_line_unique_product"),
        )

    def __str__(self) -> str:
        return f"{self.quantity} x {self.name}"
