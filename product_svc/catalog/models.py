"""Catalog models: categories, products (price, on-hand and allocated stock) and reservations for orders."""

from __future__ import annotations

import uuid

from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F

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
    # Stock is kept as Saleor keeps it: units on hand (what staff count and set) apart from units
    # allocated to orders (what reservations take and give back, with conditional updates). Staff
    # writes never touch the allocation and reservations never touch on hand, so neither can undo
    # the other with a value read earlier.
    stock_on_hand = models.IntegerField("on hand", default=0, validators=[MinValueValidator(0)])
    stock_allocated = models.IntegerField("allocated", default=0, editable=False)
    # Available for sale; computed by the database, so filters and the reservation's condition read it.
    stock = models.GeneratedField(
        expression=F("stock_on_hand") - F("stock_allocated"),
        output_field=models.IntegerField("available"),
        db_persist=True,
        verbose_name="available",
    )
    active = models.BooleanField(default=True)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(price__gte=0), name="catalog_product_price_gte_0"),
            models.CheckConstraint(
                condition=models.Q(stock_on_hand__gte=0), name="catalog_product_stock_on_hand_gte_0"
            ),
            models.CheckConstraint(
                condition=models.Q(stock_allocated__gte=0), name="catalog_product_stock_allocated_gte_0"
            ),
            # Never more allocated than on hand: available never drops below zero, whoever writes.
            models.CheckConstraint(
                condition=models.Q(stock_allocated__lte=F("stock_on_hand")),
                name="catalog_product_allocated_lte_on_hand",
            ),
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
    """Stock allocated to one order; the order id makes reserving idempotent.

    held -> confirmed (the order was confirmed: allocated until the order is cancelled)
    held -> expired (no order confirmed it before `expires_at`: its units went back on sale)
    held | confirmed -> released (the checkout failed or the order was cancelled)
    released | expired -> held (the same order reserved again: a retried checkout)
    """

    class Status(models.TextChoices):
        HELD = "held", "Held"
        CONFIRMED = "confirmed", "Confirmed"
        RELEASED = "released", "Released"
        EXPIRED = "expired", "Expired"

    # The statuses whose lines count in the products' allocated stock.
    ALLOCATING = (Status.HELD, Status.CONFIRMED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    order_id = models.UUIDField(unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.HELD)
    # Only a held reservation expires; confirming clears it.
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["held", "confirmed", "released", "expired"]),
                name="catalog_reservation_status_valid",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="held") | models.Q(expires_at__isnull=False),
                name="catalog_reservation_held_expires",
            ),
        ]
        indexes = [
            # The expiry job's scan: held reservations past their time.
            models.Index(fields=["expires_at"], name="catalog_reservation_held_idx", condition=models.Q(status="held")),
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
