"""django-filter FilterSet of the product list; its input is already validated by the API's filter serializer."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet

from product_svc.catalog.models import Product

# The public ordering names and the columns behind them; `id` breaks ties so pages never overlap.
ORDERINGS: dict[str, tuple[str, ...]] = {
    "name": ("name", "id"),
    "-name": ("-name", "-id"),
    "price": ("price", "id"),
    "-price": ("-price", "-id"),
    "created_at": ("created_at", "id"),
    "-created_at": ("-created_at", "-id"),
}


class ProductFilter(django_filters.FilterSet):  # type: ignore[misc]
    category = django_filters.CharFilter(field_name="category__slug")
    min_price = django_filters.NumberFilter(field_name="price", lookup_expr="gte")
    max_price = django_filters.NumberFilter(field_name="price", lookup_expr="lte")
    in_stock = django_filters.BooleanFilter(method="filter_in_stock")
    search = django_filters.CharFilter(method="filter_search")
    ordering = django_filters.ChoiceFilter(choices=[(name, name) for name in ORDERINGS], method="filter_ordering")

    class Meta:
        model = Product
        fields: list[str] = []

    def filter_in_stock(self, queryset: QuerySet[Product], name: str, value: bool) -> QuerySet[Product]:
        return queryset.filter(stock__gt=0) if value else queryset.filter(stock=0)

    def filter_search(self, queryset: QuerySet[Product], name: str, value: str) -> QuerySet[Product]:
        term = value.strip()
        if not term:
            return queryset
        return queryset.filter(Q(name__icontains=term) | Q(description__icontains=term) | Q(sku__istartswith=term))

    def filter_ordering(self, queryset: QuerySet[Product], name: str, value: str) -> QuerySet[Product]:
        return queryset.order_by(*ORDERINGS[value])


def filter_data(filters: dict[str, Any]) -> dict[str, Any]:
    """Validated filter values as the FilterSet's form expects them (strings, booleans as true/false)."""
    data: dict[str, Any] = {}
    for key, value in filters.items():
        if value is None:
            continue
        data[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return data
