"""factory_boy factories of the catalog's models."""

from __future__ import annotations

from decimal import Decimal

from factory.declarations import LazyAttribute, Sequence, SubFactory
from factory.django import DjangoModelFactory

from product_svc.catalog.models import Category, Product


class CategoryFactory(DjangoModelFactory[Category]):
    class Meta:
        model = Category

    slug = Sequence(lambda n: f"category-{n}")  # type: ignore[no-untyped-call]
    name = Sequence(lambda n: f"Category {n}")  # type: ignore[no-untyped-call]
    description = "Things of one kind."


class ProductFactory(DjangoModelFactory[Product]):
    class Meta:
        model = Product

    class Params:
        stock = 10

    sku = Sequence(lambda n: f"SKU-{n:05d}")  # type: ignore[no-untyped-call]
    name = Sequence(lambda n: f"Product {n:05d}")  # type: ignore[no-untyped-call]
    slug = LazyAttribute(lambda o: o.sku.lower())  # type: ignore[no-untyped-call]
    description = "A fine product."
    price = Decimal("10.00")
    currency = "USD"
    # `stock=` is what a test means by a new product's units: nothing is allocated yet, so on hand.
    stock_on_hand = LazyAttribute(lambda o: o.stock)  # type: ignore[no-untyped-call]
    active = True
    category = SubFactory(CategoryFactory)  # type: ignore[no-untyped-call]
