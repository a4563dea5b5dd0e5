"""Orders, their lines (priced by products at checkout) and the history of their status changes."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import ClassVar

from django.db import models
from django.db.models import Q
from django.utils import timezone

from order_svc.orders.errors import FINAL_FAILURE_REASONS

IDEMPOTENCY_KEY_MAX_LENGTH = 64
CURRENCY_LENGTH = 3
PRODUCT_NAME_MAX_LENGTH = 255
NOTE_MAX_LENGTH = 255
MONEY_MAX_DIGITS = 12
MONEY_DECIMAL_PLACES = 2
# The largest amount the money columns hold (12 digits, 2 of them decimals).
MONEY_MAX = Decimal(10 ** (MONEY_MAX_DIGITS - MONEY_DECIMAL_PLACES)) - Decimal("0.01")


class OrderStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    CONFIRMED = "confirmed", "Confirmed"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"


class Order(models.Model):
    """One checkout of a customer's cart, identified for retries by (user_id, idempotency_key)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # The customer's id from the access token; users live in the users service (no cross-database FK).
    user_id = models.UUIDField()
    status = models.CharField(max_length=16, choices=OrderStatus.choices, default=OrderStatus.PENDING)
    total = models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, default=0)
    currency = models.CharField(max_length=CURRENCY_LENGTH)
    idempotency_key = models.CharField(max_length=IDEMPOTENCY_KEY_MAX_LENGTH)
    # What the cart held when the key was first used: a resumed checkout reserves exactly this,
    # never whatever the cart holds by then.
    requested_lines = models.JSONField(default=list, blank=True, help_text="[{product_id, quantity}] from the cart.")
    failure_reason = models.CharField(
        max_length=32,
        choices=[(reason.value, reason.label) for reason in FINAL_FAILURE_REASONS],
        blank=True,
        default="",
    )
    failure_product_id = models.UUIDField(null=True, blank=True)
    failure_available = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=("user_id", "idempotency_key"), name="orders_order_one_per_key"),
            models.CheckConstraint(condition=Q(status__in=OrderStatus.values), name="orders_order_status_valid"),
            models.CheckConstraint(condition=Q(total__gte=0), name="orders_order_total_not_negative"),
            models.CheckConstraint(condition=~Q(idempotency_key=""), name="orders_order_key_not_empty"),
            models.CheckConstraint(condition=Q(currency__regex=r"^[A-Z]{3}$"), name="orders_order_currency_iso"),
            # A failed order always says why, and only a failed order has a failure reason.
            models.CheckConstraint(
                condition=(Q(status=OrderStatus.FAILED) & ~Q(failure_reason=""))
                | (~Q(status=OrderStatus.FAILED) & Q(failure_reason="")),
                name="orders_order_failure_reason_iff_failed",
            ),
        ]
        indexes: ClassVar[list[models.Index]] = [
            # A customer's orders, newest first (GET /api/orders).
            models.Index(fields=("user_id", "-created_at"), name="orders_order_user_newest_idx"),
            # Checkouts left pending by a crash or an outage (expire_pending_orders).
            models.Index(
                fields=("created_at",), name="orders_order_pending_idx", condition=Q(status=OrderStatus.PENDING)
            ),
        ]

    def __str__(self) -> str:
        return f"order {self.id} ({self.status})"


class OrderLine(models.Model):
    """One product of an order, with the name and price products reserved it at."""

    id = models.BigAutoField(primary_key=True)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product_id = models.UUIDField()
    name = models.CharField(max_length=PRODUCT_NAME_MAX_LENGTH)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES)
    line_total = models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("id",)
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=("order", "product_id"), name="orders_line_one_per_product"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="orders_line_quantity_positive"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="orders_line_price_not_negative"),
            models.CheckConstraint(condition=Q(line_total__gte=0), name="orders_line_total_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.name}"


class OrderStatusChange(models.Model):
    """An entry of an order's history: every status it entered, when, and why."""

    id = models.BigAutoField(primary_key=True)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="history")
    status = models.CharField(max_length=16, choices=OrderStatus.choices)
    note = models.CharField(max_length=NOTE_MAX_LENGTH, blank=True, default="")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("at", "id")
        verbose_name = "status change"
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(condition=Q(status__in=OrderStatus.values), name="orders_change_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.status} at {self.at.isoformat()}"
