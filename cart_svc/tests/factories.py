"""factory_boy factories of the carts app's models (for reads and consumers; adds in tests go through the service)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from factory.declarations import LazyFunction, Sequence, SubFactory
from factory.django import DjangoModelFactory

from cart_svc.carts.models import Cart, CartLine


class CartFactory(DjangoModelFactory[Cart]):
    class Meta:
        model = Cart

    user_id = LazyFunction(uuid.uuid4)  # type: ignore[no-untyped-call]


class CartLineFactory(DjangoModelFactory[CartLine]):
    class Meta:
        model = CartLine

    cart = SubFactory(CartFactory)  # type: ignore[no-untyped-call]
    product_id = LazyFunction(uuid.uuid4)  # type: ignore[no-untyped-call]
    quantity = 1
    name = Sequence(lambda n: f"Product {n}")  # type: ignore[no-untyped-call]
    unit_price = Decimal("10.00")
    currency = "USD"
