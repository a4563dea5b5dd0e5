"""Catalog models: categories, products (price, stock) and stock reservations held for orders."""

from __future__ import annotations

import uuid

from django.core.validators import MinValueValidator, RegexValidator
from django.db import models

CURRENCY_VALIDATOR = RegexValidator(r"^[A-Z]{3}$", "Use an ISO 4217 code such as USD.")
DEFAULT_CURRENCY = "USD"


class Category(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    sku = models.CharField(
        max_length=64,
        unique=True,
        validators=[RegexValidator(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", "Letters, digits, '.', '_' and '-' only.")],
    )
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=220, unique=True)
    description = models.TextField(blank=True, max_length=5000)
    price = models.DecimalField(max_digits=10, decimal_places=2, validators=[MinValueValidator(0)])
    currency = models.CharField(max_length=3, default=DEFAULT_CURRENCY, validators=[CURRENCY_VALIDATOR])
    # Units available for sale; reservations take from it with conditional updates, never below zero.
    stock = models.IntegerField(default=0, validators=[MinValueValidator(0)])
    active = models.BooleanField(default=True)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(price__gte=0), name="catalog_product_price_gte_0"),
            models.CheckConstraint(condition=models.Q(stock__gte=0), name="catalog_product_stock_gte_0"),
        ]
        # The public list filters on active (always, for customers) plus price / category and sorts by
        # name, price or creation time.
        indexes = [
            models.Index(fields=["active", "name"], name="catalog_prod_active_name"),
            models.Index(fields=["active", "price"], name="catalog_prod_active_price"),
            models.Index(fields=["active", "created_at"], name="catalog_prod_active_created"),
            models.Index(fields=["category", "active"], name="catalog_prod_category_active"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"


class Reservation(models.Model):
    """Stock held for one order; the order id makes reserving idempotent."""

    class Status(models.TextChoices):
        HELD = "held", "Held"
        RELEASED = "released", "Released"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    order_id = models.UUIDField(unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.HELD)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["held", "released"]), name="catalog_reservation_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Reservation for order {self.order_id} ({self.status})"


class ReservationLine(models.Model):
    """One product's units in a reservation, with the name and price it had when reserved."""

    reservation = models.ForeignKey(Reservation, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="reservation_lines")
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)
    currency = models.CharField(max_length=3)
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["product_id"]
        constraints = [
            models.UniqueConstraint(fields=["reservation", "product"], name="catalog_reservation_line_unique"),
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="catalog_reservation_line_quantity_gt_0"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.name}"
