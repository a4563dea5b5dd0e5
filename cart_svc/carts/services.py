"""Writes of the carts app: add, set and remove lines (checked against products first), clear after an order.

Products is asked over gRPC BEFORE the database transaction starts, never inside it: a slow or
dead products service must not hold row locks. The stock check is advisory (stock moves all the
time); the reservation at checkout is what guarantees it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import structlog
from django.db import transaction

from cart_svc.carts import metrics
from cart_svc.carts.errors import CartFull, CartLineNotFound, CurrencyMismatch, InvalidQuantity, LineQuantityLimit
from cart_svc.carts.models import (
    MAX_CART_LINES,
    MAX_LINE_QUANTITY,
    MIN_LINE_QUANTITY,
    PRODUCT_NAME_MAX_LENGTH,
    Cart,
    CartLine,
)
from shopkit.grpc.products import InsufficientStock, ProductInfo, ProductUnavailable, products_client

log = structlog.get_logger(__name__)


def _quantity_check(quantity: int) -> None:
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise InvalidQuantity(minimum=MIN_LINE_QUANTITY, maximum=MAX_LINE_QUANTITY)
    if not MIN_LINE_QUANTITY <= quantity <= MAX_LINE_QUANTITY:
        raise InvalidQuantity(minimum=MIN_LINE_QUANTITY, maximum=MAX_LINE_QUANTITY)


def _product_for_sale(*, product_id: uuid.UUID) -> ProductInfo:
    """The product as products knows it now: ProductNotFound (404), ProductUnavailable (409) or 503."""
    product = products_client().get_product(product_id)
    if not product.active:
        raise ProductUnavailable(product_id)
    return product


def _stock_check(*, product: ProductInfo, quantity: int) -> None:
    if quantity > product.stock:
        raise InsufficientStock(product.id, product.stock)


def _cart_lock(*, user_id: uuid.UUID, create: bool) -> Cart | None:
    """The customer's cart, row-locked so that its lines change one request at a time."""
    cart = Cart.objects.select_for_update().filter(user_id=user_id).first()
    if cart is None and create:
        # A concurrent first add may insert the same user's cart: the unique user_id decides, and
        # both requests then lock the one row.
        Cart.objects.bulk_create([Cart(user_id=user_id)], ignore_conflicts=True)
        cart = Cart.objects.select_for_update().get(user_id=user_id)
    return cart


def _line_snapshot(line: CartLine, product: ProductInfo) -> None:
    """Remember what products said, so the cart still reads when products is down."""
    line.name = product.name[:PRODUCT_NAME_MAX_LENGTH]
    line.unit_price = product.price
    line.currency = product.currency
    # Field validation only: the unique and check constraints are the database's job.
    line.full_clean(exclude=["cart"], validate_unique=False, validate_constraints=False)


def cart_item_add(*, user_id: uuid.UUID, product_id: uuid.UUID, quantity: int) -> CartLine:
    """Add `quantity` units of a product to the customer's cart (a new line, or more of an existing one).

    The line's resulting quantity must stay within 1..99 and within the product's stock.
    """
    _quantity_check(quantity)
    product = _product_for_sale(product_id=product_id)
    _stock_check(product=product, quantity=quantity)
    line = _line_add(user_id=user_id, product=product, quantity=quantity)
    log.info(
        "cart_item_added",
        user_id=str(user_id),
        product_id=str(product_id),
        quantity=quantity,
        line_quantity=line.quantity,
    )
    return line


@transaction.atomic
def _line_add(*, user_id: uuid.UUID, product: ProductInfo, quantity: int) -> CartLine:
    cart = _cart_lock(user_id=user_id, create=True)
    assert cart is not None
    line = CartLine.objects.filter(cart=cart, product_id=product.id).first()
    in_cart = line.quantity if line is not None else 0
    if in_cart + quantity > MAX_LINE_QUANTITY:
        raise LineQuantityLimit(product_id=product.id, in_cart=in_cart, maximum=MAX_LINE_QUANTITY)
    _stock_check(product=product, quantity=in_cart + quantity)
    if line is None:
        _new_line_check(cart=cart, product=product)
        line = CartLine(cart=cart, product_id=product.id, quantity=quantity)
        _line_snapshot(line, product)
        line.save(force_insert=True)
    else:
        line.quantity = in_cart + quantity
        _line_snapshot(line, product)
        line.save(update_fields=["quantity", "name", "unit_price", "currency", "updated_at"])
    cart.save(update_fields=["updated_at"])
    transaction.on_commit(metrics.CART_ADDITIONS.inc)
    return line


def _new_line_check(*, cart: Cart, product: ProductInfo) -> None:
    """Room for one more product, priced in the currency of the products already in the cart."""
    currencies = list(cart.lines.values_list("currency", flat=True))
    if len(currencies) >= MAX_CART_LINES:
        raise CartFull(maximum=MAX_CART_LINES)
    if currencies and product.currency != currencies[0]:
        raise CurrencyMismatch(product_id=product.id, currency=product.currency, cart_currency=currencies[0])


def cart_item_set(*, user_id: uuid.UUID, product_id: uuid.UUID, quantity: int) -> CartLine:
    """Set the quantity of a product already in the cart (1..99, within stock); 404 when it is not there."""
    _quantity_check(quantity)
    # Checked first so that a product not in the cart is a 404 without asking products about it.
    if not CartLine.objects.filter(cart__user_id=user_id, product_id=product_id).exists():
        raise CartLineNotFound(product_id)
    product = _product_for_sale(product_id=product_id)
    _stock_check(product=product, quantity=quantity)
    line = _line_set(user_id=user_id, product=product, quantity=quantity)
    log.info("cart_item_set", user_id=str(user_id), product_id=str(product_id), quantity=quantity)
    return line


@transaction.atomic
def _line_set(*, user_id: uuid.UUID, product: ProductInfo, quantity: int) -> CartLine:
    cart = _cart_lock(user_id=user_id, create=False)
    line = CartLine.objects.filter(cart=cart, product_id=product.id).first() if cart is not None else None
    if cart is None or line is None:
        # Removed (or ordered) while products was being asked.
        raise CartLineNotFound(product.id)
    line.quantity = quantity
    _line_snapshot(line, product)
    line.save(update_fields=["quantity", "name", "unit_price", "currency", "updated_at"])
    cart.save(update_fields=["updated_at"])
    return line


@transaction.atomic
def cart_item_remove(*, user_id: uuid.UUID, product_id: uuid.UUID) -> None:
    """Remove a product from the customer's cart; 404 when it is not there."""
    cart = _cart_lock(user_id=user_id, create=False)
    deleted = CartLine.objects.filter(cart=cart, product_id=product_id).delete()[0] if cart is not None else 0
    if cart is None or not deleted:
        raise CartLineNotFound(product_id)
    cart.save(update_fields=["updated_at"])
    log.info("cart_item_removed", user_id=str(user_id), product_id=str(product_id))


@transaction.atomic
def cart_clear_for_order(*, user_id: uuid.UUID, order_id: uuid.UUID, product_ids: Iterable[uuid.UUID]) -> int:
    """Remove the ordered products from the customer's cart; idempotent (a replay finds nothing to remove)."""
    ids = list(set(product_ids))
    cart = _cart_lock(user_id=user_id, create=False)
    removed = 0
    if cart is not None and ids:
        removed = CartLine.objects.filter(cart=cart, product_id__in=ids).delete()[0]
        if removed:
            cart.save(update_fields=["updated_at"])
    log.info("cart_cleared_for_order", user_id=str(user_id), order_id=str(order_id), removed=removed)
    return removed


@transaction.atomic
def cart_lines_remove(*, line_ids: Iterable[uuid.UUID], removed_by: str) -> int:
    """Staff removes lines from customers' carts (admin action); returns how many were removed."""
    ids = sorted(set(line_ids))
    cart_ids = sorted(set(CartLine.objects.filter(id__in=ids).values_list("cart_id", flat=True)))
    # Same lock as the customer's own writes, taken in a fixed order so two staff actions cannot deadlock.
    carts = list(Cart.objects.select_for_update().filter(id__in=cart_ids).order_by("id"))
    removed = CartLine.objects.filter(id__in=ids).delete()[0]
    for cart in carts:
        cart.save(update_fields=["updated_at"])
    log.info("cart_lines_removed_by_staff", removed=removed, removed_by=removed_by, cart_ids=[str(c) for c in cart_ids])
    return removed
