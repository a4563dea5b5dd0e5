"""Management commands: seed_demo."""

from __future__ import annotations

from io import StringIO

from django.core.management import call_command

from product_svc.catalog.demo_data import PRODUCTS
from product_svc.catalog.models import Category, Product


def test_seed_demo_loads_the_demo_catalog_once(db: None) -> None:
    # when
    first, second = StringIO(), StringIO()
    call_command("seed_demo", stdout=first)
    call_command("seed_demo", stdout=second)

    # then
    total = sum(len(items) for items in PRODUCTS.values())
    assert total >= 60
    assert Product.objects.count() == total
    assert Category.objects.count() >= 6
    assert all(category.products.exists() for category in Category.objects.all())
    assert Product.objects.filter(stock=0).count() >= 3
    assert Product.objects.filter(active=False).count() == 1
    assert first.getvalue().strip() == f"products: {total} demo products in {Category.objects.count()} categories"
    assert "already has products" in second.getvalue()
