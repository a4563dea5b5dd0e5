"""Reads of the catalog: categories, the filtered product list, one product, reservations."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet

from product_svc.catalog.errors import ProductNotFound
from product_svc.catalog.filters import ProductFilter, filter_data
from product_svc.catalog.models import Category, Product, Reservation

MAX_PRODUCTS_PER_LOOKUP = 500


def category_list() -> QuerySet[Category]:
    return Category.objects.order_by("name", "id")


def product_list(*, filters: dict[str, Any] | None = None, include_inactive: bool = False) -> QuerySet[Product]:
    """Products matching validated `filters` (see ProductFilter), with their category, default order by name."""
    queryset = Product.objects.select_related("category").order_by("name", "id")
    if not include_inactive:
        queryset = queryset.filter(active=True)
    if filters:
        filterset = ProductFilter(filter_data(filters), queryset=queryset)
        # The API validated every value already; an invalid one here is a programming error.
        if not filterset.is_valid():
            raise ValueError(f"invalid product filters: {filterset.errors.as_json()}")
        queryset = filterset.qs
    return queryset


def parse_uuid(value: uuid.UUID | str) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return None


def product_get(*, product_id: uuid.UUID | str, include_inactive: bool = True) -> Product:
    """One product with its category; a malformed, unknown (or, for customers, inactive) id is ProductNotFound."""
    parsed = parse_uuid(product_id)
    if parsed is None:
        raise ProductNotFound(product_id)
    queryset = Product.objects.select_related("category")
    if not include_inactive:
        queryset = queryset.filter(active=True)
    product = queryset.filter(id=parsed).first()
    if product is None:
        raise ProductNotFound(parsed)
    return product


def product_get_many(*, product_ids: Iterable[uuid.UUID | str]) -> tuple[list[Product], list[str]]:
    """Products by id (active or not) in the order asked, and the ids that are unknown or malformed."""
    wanted: dict[str, uuid.UUID | None] = {str(raw): parse_uuid(raw) for raw in product_ids}
    valid = {parsed for parsed in wanted.values() if parsed is not None}
    found = {product.id: product for product in Product.objects.filter(id__in=valid)} if valid else {}
    products: list[Product] = []
    missing: list[str] = []
    for raw, parsed in wanted.items():
        product = found.get(parsed) if parsed is not None else None
        if product is None:
            missing.append(raw)
        else:
            products.append(product)
    return products, missing


def reservation_get(*, order_id: uuid.UUID) -> Reservation | None:
    return Reservation.objects.prefetch_related("lines").filter(order_id=order_id).first()
