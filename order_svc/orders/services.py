"""Writes of the orders app: checkout (idempotent, stock reserved over gRPC), cancellation, stale checkouts."""

from __future__ import annotations

import datetime as dt
import enum
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import structlog
from django.db import IntegrityError, transaction
from django.utils import timezone

from order_svc.orders import metrics
from order_svc.orders.carts import Cart, cart_fetch
from order_svc.orders.errors import (
    CartsUnavailable,
    CartTooLarge,
    CheckoutFailed,
    EmptyCart,
    FailureReason,
    InvalidIdempotencyKey,
    OrderNotCancellable,
    OrderNotFound,
    ProductsUnavailable,
)
from order_svc.orders.models import (
    IDEMPOTENCY_KEY_MAX_LENGTH,
    MONEY_MAX,
    PRODUCT_NAME_MAX_LENGTH,
    Order,
    OrderLine,
    OrderStatus,
    OrderStatusChange,
)
from order_svc.orders.selectors import order_by_idempotency_key
from shopkit.errors import ApplicationError
from shopkit.events import emit_event
from shopkit.events.contracts import OrderCancelledV1, OrderConfirmedV1, OrderLineV1
from shopkit.grpc.products import (
    InsufficientStock,
    ProductNotFound,
    ProductRefusal,
    ProductsServiceUnavailable,
    ProductUnavailable,
    ReservedLine,
    products_client,
)

log = structlog.get_logger(__name__)

MAX_ORDER_LINES = 100
CENT = Decimal("0.01")
# Printable ASCII without spaces, like the gateway's header validation.
IDEMPOTENCY_KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,%d}" % IDEMPOTENCY_KEY_MAX_LENGTH)  # noqa: UP031


class CancelReason(enum.StrEnum):
    CUSTOMER = "customer_request"
    STAFF = "staff"


@dataclass(frozen=True)
class CheckoutResult:
    order: Order
    # True when this call placed the order (201); False when it found the key's order settled (200).
    created: bool


# -- checkout -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Refusal:
    """Why an order's reservation cannot become the order: it fails for good with this reason."""

    reason: FailureReason
    product_id: uuid.UUID | None = None
    available: int | None = None


# The refusals of a reservation products names (shopkit.grpc.product_contract), as orders' failure reasons.
_REFUSAL_REASONS: dict[type[ProductRefusal], FailureReason] = {
    InsufficientStock: FailureReason.INSUFFICIENT_STOCK,
    ProductUnavailable: FailureReason.PRODUCT_UNAVAILABLE,
    ProductNotFound: FailureReason.PRODUCT_NOT_FOUND,
}


def order_checkout(*, user_id: uuid.UUID, idempotency_key: str, authorization: str) -> CheckoutResult:
    """Place an order from the caller's cart, exactly once per (user_id, idempotency_key).

    Deliberately not one transaction: it calls carts (HTTP) and products (gRPC), and no remote
    call may run inside a database transaction. Instead:

    1. Find the key's order, or read the cart from carts and store the order `pending` with the
       cart's lines in a short transaction. Carts down: 503; empty: 422; nothing is stored either
       way. Two concurrent requests with one key race on the (user_id, idempotency_key) unique
       constraint; the loser continues with the winner's order.
    2. Settled already (a replay): confirmed or cancelled, returned as it is (`created=False`, the
       API answers 200); failed, the same problem is raised again. A key names one checkout
       attempt and its outcome; a customer who fixed the cart checks out with a new key. A pending
       order (an earlier attempt crashed or found products down) goes on from here, with the lines
       stored when the key was first used, never the cart as it is now.
    3. Reserve its stock over gRPC with the order id, outside any transaction. Reservations are
       idempotent per order, so a resumed or concurrent checkout never reserves twice. Products
       unreachable: 503 and the order stays pending, so retrying the key resumes it.
    4. Refused (insufficient stock, inactive or unknown product; or the reserved lines are in
       mixed currencies or total more than the money columns hold, once their stock went back):
       the order is `failed` with the reason and CheckoutFailed is raised (409 naming the product;
       422 for the total). An unknown product is a 409 like an inactive one: the cart holds a
       product the catalogue no longer has, a conflict the customer resolves by editing the cart.
    5. Otherwise confirm: lines with products' names and prices (products are the price
       authority, never the cart), total, `confirmed`, history and the `shop.order.confirmed.v1`
       outbox event in one transaction (`created=True`: also for the
       call that completes a resumed order, as the customer sees the order placed). Then products
       is told, so the reservation no longer expires (best effort; products' consumer confirms on
       the `shop.order.confirmed.v1` event when this call cannot).
    """
    _check_idempotency_key(idempotency_key)
    order = _order_find_or_create_pending(user_id=user_id, idempotency_key=idempotency_key, authorization=authorization)
    if order.status != OrderStatus.PENDING:
        return _checkout_settled(order)

    reservation = _stock_reserve(order)
    if isinstance(reservation, _Refusal):
        # Raises CheckoutFailed, unless a concurrent request settled the order first.
        return _checkout_settled(_checkout_fail(order, reservation))

    confirmed, placed = _order_confirm(order_id=order.id, reserved=reservation)
    if not placed:
        if confirmed.status == OrderStatus.FAILED:
            # It failed while this call was reserving (refused to a concurrent request, or expired
            # as abandoned): whatever this call's reservation holds must go back.
            _release_best_effort(confirmed)
        return _checkout_settled(confirmed)
    _confirm_reservation_best_effort(confirmed)
    metrics.ORDERS_CREATED.inc()
    metrics.ORDER_VALUE.labels(currency=confirmed.currency).inc(float(confirmed.total))
    log.info(
        "order_placed",
        order_id=str(confirmed.id),
        total=str(confirmed.total),
        currency=confirmed.currency,
        lines=len(reservation),
    )
    return CheckoutResult(order=confirmed, created=True)


def _check_idempotency_key(idempotency_key: str) -> None:
    if not IDEMPOTENCY_KEY_PATTERN.fullmatch(idempotency_key):
        raise InvalidIdempotencyKey(max_length=IDEMPOTENCY_KEY_MAX_LENGTH)


def _order_find_or_create_pending(*, user_id: uuid.UUID, idempotency_key: str, authorization: str) -> Order:
    """The key's order, whatever its status; else a new pending order of the cart's lines."""
    existing = order_by_idempotency_key(user_id=user_id, idempotency_key=idempotency_key)
    if existing is not None:
        log.info("checkout_replayed", order_id=str(existing.id), status=existing.status)
        return existing
    order, created = _order_create_pending(
        user_id=user_id, idempotency_key=idempotency_key, cart=_cart_to_order(authorization=authorization)
    )
    if not created:
        log.info("checkout_lost_race", order_id=str(order.id), status=order.status)
    return order


def _checkout_failure_counted(reason: FailureReason) -> None:
    metrics.CHECKOUT_FAILURES.labels(reason=reason.value).inc()


def _cart_to_order(*, authorization: str) -> Cart:
    """The caller's cart, if it can become an order: CartsUnavailable (503), EmptyCart or CartTooLarge (422)."""
    try:
        cart = cart_fetch(authorization=authorization)
    except CartsUnavailable:
        _checkout_failure_counted(FailureReason.CARTS_UNAVAILABLE)
        raise
    if not cart.lines:
        _checkout_failure_counted(FailureReason.EMPTY_CART)
        raise EmptyCart
    if len(cart.lines) > MAX_ORDER_LINES:
        _checkout_failure_counted(FailureReason.CART_TOO_LARGE)
        raise CartTooLarge(max_lines=MAX_ORDER_LINES)
    return cart


def _order_create_pending(*, user_id: uuid.UUID, idempotency_key: str, cart: Cart) -> tuple[Order, bool]:
    """Store the order `pending` with the cart's products; (the winner's order, False) on a lost race."""
    order = Order(
        user_id=user_id,
        idempotency_key=idempotency_key,
        currency=cart.currency,
        requested_lines=[{"product_id": str(line.product_id), "quantity": line.quantity} for line in cart.lines],
    )
    # Uniqueness is left to the database: its constraint decides which of two concurrent requests wins.
    order.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            order.save(force_insert=True)
            OrderStatusChange.objects.create(order=order, status=OrderStatus.PENDING, note="checkout started")
    except IntegrityError:
        winner = order_by_idempotency_key(user_id=user_id, idempotency_key=idempotency_key)
        if winner is None:
            raise  # not the race on the key: a real integrity problem, never hidden
        return winner, False
    log.info("order_pending", order_id=str(order.id), lines=len(cart.lines))
    return order, True


def _checkout_settled(order: Order) -> CheckoutResult:
    """The answer for an order that is no longer pending: CheckoutFailed for a failed one."""
    if order.status == OrderStatus.FAILED:
        raise CheckoutFailed.for_order(order)
    return CheckoutResult(order=order, created=False)


def _stock_reserve(order: Order) -> list[ReservedLine] | _Refusal:
    """Reserve the order's requested lines: the reserved lines, or why they cannot become this order.

    ProductsUnavailable (the order stays pending) when products cannot answer, or cannot take back
    the stock of lines that cannot make one order.
    """
    requested = [(uuid.UUID(line["product_id"]), int(line["quantity"])) for line in order.requested_lines]
    try:
        reserved = products_client().reserve_stock(order.id, requested)
    except ProductRefusal as refusal:
        return _Refusal(_REFUSAL_REASONS[type(refusal)], product_id=refusal.product_id, available=refusal.available)
    except ProductsServiceUnavailable as exc:
        _checkout_failure_counted(FailureReason.PRODUCTS_UNAVAILABLE)
        log.warning("checkout_products_unavailable", order_id=str(order.id), error=str(exc))
        raise ProductsUnavailable(order_id=str(order.id)) from exc

    if not reserved:
        # Products answered a reservation without lines: a broken answer, so the order waits.
        log.error("checkout_empty_reservation", order_id=str(order.id))
        raise ProductsUnavailable(order_id=str(order.id))
    if len({line.currency for line in reserved}) > 1:
        # Never add up different currencies.
        reason = FailureReason.MIXED_CURRENCIES
    elif _order_total(reserved) > MONEY_MAX:
        # More than the money columns hold: this order can never be stored.
        reason = FailureReason.TOTAL_TOO_LARGE
    else:
        return reserved
    # The stock must go back before the order may fail; if products is down now, the order stays
    # pending and a retry comes back here.
    _release_or_unavailable(order)
    return _Refusal(reason)


def _checkout_fail(order: Order, refusal: _Refusal) -> Order:
    """Fail the pending order for the refusal; the order as it is now (settled by another request, maybe)."""
    failed, transitioned = _order_fail(
        order_id=order.id, reason=refusal.reason, product_id=refusal.product_id, available=refusal.available
    )
    if transitioned:
        _checkout_failure_counted(refusal.reason)
        log.info(
            "checkout_refused",
            order_id=str(order.id),
            reason=refusal.reason.value,
            product_id=str(refusal.product_id) if refusal.product_id else None,
            available=refusal.available,
        )
    return failed


def _line_total(line: ReservedLine) -> Decimal:
    return (line.unit_price * line.quantity).quantize(CENT)


def _order_total(reserved: Sequence[ReservedLine]) -> Decimal:
    return sum((_line_total(line) for line in reserved), Decimal("0.00"))


def _confirm_reservation_best_effort(order: Order) -> None:
    """Tell products the order is confirmed, so its reservation never expires.

    Called after the order committed (no remote call inside a transaction). When products cannot be
    reached now, its consumer confirms on the `shop.order.confirmed.v1` event committed with the
    order; a reservation's hold (RESERVATION_HOLD_SECONDS, 30 minutes) leaves that path ample time.
    """
    try:
        products_client().confirm_reservation(order.id)
    except ApplicationError as exc:
        log.warning("order_reservation_confirm_deferred", order_id=str(order.id), error=str(exc), code=exc.code)


def _release_or_unavailable(order: Order) -> None:
    try:
        products_client().release_stock(order.id)
    except ProductsServiceUnavailable as exc:
        _checkout_failure_counted(FailureReason.PRODUCTS_UNAVAILABLE)
        raise ProductsUnavailable(order_id=str(order.id)) from exc


@transaction.atomic
def _order_confirm(*, order_id: uuid.UUID, reserved: Sequence[ReservedLine]) -> tuple[Order, bool]:
    """Store the reserved lines and confirm; (order, False) when something else settled it meanwhile."""
    order = Order.objects.select_for_update().get(id=order_id)
    if order.status != OrderStatus.PENDING:
        return order, False
    lines = [
        OrderLine(
            order=order,
            product_id=line.product_id,
            name=line.name[:PRODUCT_NAME_MAX_LENGTH],
            quantity=line.quantity,
            unit_price=line.unit_price.quantize(CENT),
            line_total=_line_total(line),
        )
        for line in reserved
    ]
    for line in lines:
        # `order` is excluded: validating the foreign key would cost one query per line.
        line.full_clean(exclude=["order"], validate_unique=False, validate_constraints=False)
    OrderLine.objects.bulk_create(lines)
    order.total = sum((line.line_total for line in lines), Decimal("0.00"))
    order.currency = reserved[0].currency
    order.status = OrderStatus.CONFIRMED
    order.full_clean(validate_unique=False, validate_constraints=False)
    order.save(update_fields=["total", "currency", "status", "updated_at"])
    OrderStatusChange.objects.create(order=order, status=OrderStatus.CONFIRMED, note="stock reserved")
    emit_event(_order_confirmed_event(order, lines))
    return order, True


def _order_confirmed_event(order: Order, lines: Sequence[OrderLine]) -> OrderConfirmedV1:
    return OrderConfirmedV1(
        order_id=order.id,
        user_id=order.user_id,
        lines=tuple(
            OrderLineV1(product_id=line.product_id, quantity=line.quantity, unit_price=line.unit_price)
            for line in lines
        ),
        total=order.total,
        currency=order.currency,
    )


@transaction.atomic
def _order_fail(
    *, order_id: uuid.UUID, reason: FailureReason, product_id: uuid.UUID | None, available: int | None
) -> tuple[Order, bool]:
    """Mark a pending order failed (with history); (order, False) when a concurrent request settled it."""
    order = Order.objects.select_for_update().get(id=order_id)
    if order.status != OrderStatus.PENDING:
        return order, False
    order.status = OrderStatus.FAILED
    order.failure_reason = reason
    order.failure_product_id = product_id
    order.failure_available = available if reason == FailureReason.INSUFFICIENT_STOCK else None
    order.full_clean(validate_unique=False, validate_constraints=False)
    order.save(update_fields=["status", "failure_reason", "failure_product_id", "failure_available", "updated_at"])
    note = reason.label if product_id is None else f"{reason.label}: product {product_id}"
    if order.failure_available is not None:
        note = f"{note} ({order.failure_available} available)"
    OrderStatusChange.objects.create(order=order, status=OrderStatus.FAILED, note=note)
    return order, True


# -- cancellation ---------------------------------------------------------------------------------


def order_cancel(*, order_id: uuid.UUID, user_id: uuid.UUID, reason: CancelReason = CancelReason.CUSTOMER) -> Order:
    """Cancel the user's confirmed order and give its stock back.

    The status, its history and the `shop.order.cancelled.v1` outbox event commit in one
    transaction; only then is the stock released over gRPC (no remote call inside a
    transaction). The event's `stock_released` is false: when it is written, the stock is still
    held, and products' consumer releases on the event. So if products is down right now, the
    cancellation still succeeds and the stock comes back when the event is consumed; releasing
    is idempotent per order, so the direct release and the consumer's never release twice.

    Idempotent: cancelling a cancelled order returns it unchanged, with no second event.
    Pending orders (a checkout still in flight, or one to be resumed with its key) and failed
    orders (nothing was reserved) are not cancellable: OrderNotCancellable (409).
    """
    order, cancelled_now = _order_mark_cancelled(order_id=order_id, user_id=user_id, reason=reason)
    if cancelled_now:
        metrics.ORDERS_CANCELLED.inc()
        log.info("order_cancelled", order_id=str(order.id), reason=reason.value)
        # The committed event makes products' consumer release if this call cannot.
        _release_best_effort(order)
    return order


@transaction.atomic
def _order_mark_cancelled(*, order_id: uuid.UUID, user_id: uuid.UUID, reason: CancelReason) -> tuple[Order, bool]:
    order = Order.objects.select_for_update().filter(id=order_id, user_id=user_id).first()
    if order is None:
        raise OrderNotFound
    if order.status == OrderStatus.CANCELLED:
        return order, False
    if order.status != OrderStatus.CONFIRMED:
        raise OrderNotCancellable(status=order.status)
    order.status = OrderStatus.CANCELLED
    order.save(update_fields=["status", "updated_at"])
    OrderStatusChange.objects.create(order=order, status=OrderStatus.CANCELLED, note=f"cancelled: {reason.value}")
    emit_event(OrderCancelledV1(order_id=order.id, user_id=order.user_id, reason=reason.value, stock_released=False))
    return order, True


def _release_best_effort(order: Order) -> None:
    """Release an order's stock now if products answers; callers have a fallback when it does not."""
    try:
        released = products_client().release_stock(order.id)
    except ApplicationError as exc:
        log.warning("order_release_failed", order_id=str(order.id), status=order.status, error=str(exc))
        return
    log.info("order_stock_released", order_id=str(order.id), status=order.status, released=released)


# -- stale checkouts ------------------------------------------------------------------------------


def order_expire_pending(*, older_than: dt.timedelta) -> int:
    """Fail checkouts left pending longer than `older_than` as abandoned, then give their stock back.

    A checkout whose reservation answer was lost (products timed out after reserving) or whose
    process crashed holds stock until its key is retried; customers may never retry. Each order is
    failed first, under its row lock, so it is settled exactly once: a retry of the key that
    confirms first keeps its order and its reservation (this job then leaves both alone), and a
    retry that reserves after this finds the order failed and releases again. Then the stock is
    released (idempotent; an order products never reserved releases nothing). When products is down,
    the release is left to products itself: a reservation no order confirmed expires there after
    RESERVATION_HOLD_SECONDS. A retry of the key afterwards answers with the failure.
    """
    cutoff = timezone.now() - older_than
    stale_ids = list(
        Order.objects.filter(status=OrderStatus.PENDING, created_at__lt=cutoff)
        .order_by("created_at")
        .values_list("id", flat=True)[:500]
    )
    expired = 0
    for order_id in stale_ids:
        failed, transitioned = _order_fail(
            order_id=order_id, reason=FailureReason.ABANDONED, product_id=None, available=None
        )
        if not transitioned:
            continue
        expired += 1
        log.info("pending_order_expired", order_id=str(order_id))
        _release_best_effort(failed)
    return expired
