"""Reads of the carts app: the customer's cart priced with what products says now (or last said)."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal

import structlog

from cart_svc.carts.models import CartLine
from shopkit.grpc.products import ProductInfo, ProductsServiceUnavailable, products_client

log = structlog.get_logger(__name__)

CENT = Decimal("0.01")
# An empty cart has no product to take a currency from; the shop's catalogue is priced in USD.
DEFAULT_CURRENCY = "USD"


@dataclass(frozen=True, slots=True)
class CartLineView:
    product_id: uuid.UUID
    name: str
    quantity: int
    unit_price: Decimal
    line_total: Decimal


@dataclass(frozen=True, slots=True)
class CartView:
    lines: tuple[CartLineView, ...]
    total: Decimal
    currency: str
    # True when products could not be asked: names and prices are the ones stored with the lines.
    stale: bool


def cart_get(*, user_id: uuid.UUID, fresh: Collection[uuid.UUID] = ()) -> CartView:
    """The customer's cart (empty if they have none) with current names and prices: one query, one gRPC call.

    Lines of the products in `fresh` were written from what products said during this request, so
    their stored name and price are current and products is not asked about them again.

    Products being down must not take the cart down: the lines then show the name and price
    remembered when they were last added or set, and the cart says `stale`.
    """
    lines = list(CartLine.objects.filter(cart__user_id=user_id).order_by("created_at", "id"))
    current: dict[uuid.UUID, ProductInfo] = {}
    stale = False
    ask = [line.product_id for line in lines if line.product_id not in fresh]
    if ask:
        try:
            current = products_client().get_products(ask)
        except ProductsServiceUnavailable:
            log.warning("cart_read_stale", user_id=str(user_id), lines=len(lines))
            stale = True
    views: list[CartLineView] = []
    currencies: list[str] = []
    for line in lines:
        # A product products no longer knows keeps its remembered name and price; checkout will refuse it.
        product = current.get(line.product_id)
        name, unit_price, currency = (
            (product.name, product.price, product.currency)
            if product is not None
            else (line.name, line.unit_price, line.currency)
        )
        unit_price = unit_price.quantize(CENT)
        currencies.append(currency)
        views.append(
            CartLineView(
                product_id=line.product_id,
                name=name,
                quantity=line.quantity,
                unit_price=unit_price,
                line_total=(unit_price * line.quantity).quantize(CENT),
            )
        )
    total = sum((view.line_total for view in views), Decimal("0.00")).quantize(CENT)
    return CartView(
        lines=tuple(views), total=total, currency=currencies[0] if currencies else DEFAULT_CURRENCY, stale=stale
    )
