"""`seed_demo`: load the demo catalog (categories and products) once; does nothing when products exist."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from product_svc.catalog import services
from product_svc.catalog.demo_data import CATEGORIES, PRODUCTS
from product_svc.catalog.models import Product
from shopkit.commands import LogOutputMixin


class Command(LogOutputMixin, BaseCommand):
    help = "Load the demo catalog (idempotent: skipped when the catalog has products)."

    def handle(self, *args: Any, **options: Any) -> None:
        if Product.objects.exists():
            self.stdout.write("products: catalog already has products, demo data not loaded")
            return
        with transaction.atomic():
            for category in CATEGORIES:
                services.category_create(slug=category.slug, name=category.name, description=category.description)
                for item in PRODUCTS.get(category.slug, ()):
                    services.product_create(
                        sku=item.sku,
                        name=item.name,
                        description=item.description,
                        price=Decimal(item.price),
                        stock_on_hand=item.stock,
                        active=item.active,
                        category_slug=category.slug,
                    )
        count = sum(len(items) for items in PRODUCTS.values())
        self.stdout.write(f"products: {count} demo products in {len(CATEGORIES)} categories")
