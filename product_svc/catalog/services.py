"""Writes of the catalog: categories, products, and stock reservations that never oversell."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

import structlog
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify

from product_svc.catalog import metrics
from product_svc.catalog.cache import catalog_changed
from product_svc.catalog.errors import (
    CatalogErrorCode,
    CatalogValidationError,
    CategoryNotFound,
    InsufficientStock,
    InvalidReservation,
    ProductNotFound,
    ProductUnavailable,
    ReservationNotFound,
    ReservationReleased,
    StockBelowAllocated,
    UniqueValueTaken,
)
from product_svc.catalog.models import DEFAULT_CURRENCY, Category, Product, Reservation, ReservationLine
from product_svc.catalog.selectors import reservation_get
from shopkit.errors import ApplicationError

log = structlog.get_logger(__name__)

MAX_RESERVATION_LINES = 100
MAX_RESERVATION_QUANTITY = 10_000


def _full_clean(instance: Category | Product, *, exclude: Iterable[str] = ()) -> None:
    try:
        # Uniqueness is the database's job (unique indexes): a concurrent twin cannot slip past a check.
        instance.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise CatalogValidationError(exc.message_dict) from exc


def _save_unique(instance: Category | Product, *, update_fields: list[str] | None = None) -> None:
    """Save, turning a unique-index violation into a 409 naming the field that collided."""
    try:
        with transaction.atomic():
            instance.save(update_fields=update_fields)
    except IntegrityError as exc:
        # Ask which value is taken rather than parse the database's message (it differs per backend).
        others = type(instance)._default_manager.exclude(pk=instance.pk)
        for field, code in (("sku", CatalogErrorCode.SKU_TAKEN), ("slug", CatalogErrorCode.SLUG_TAKEN)):
            if hasattr(instance, field) and others.filter(**{field: getattr(instance, field)}).exists():
                raise UniqueValueTaken(field=field, code=code) from exc
        raise


def _category_by_slug(slug: str) -> Category:
    category = Category.objects.filter(slug=slug).first()
    if category is None:
        raise CategoryNotFound(slug)
    return category


# --- categories -------------------------------------------------------------------------------


@transaction.atomic
def category_create(*, slug: str, name: str, description: str = "") -> Category:
    category = Category(slug=slug, name=name, description=description)
    _full_clean(category)
    _save_unique(category)
    catalog_changed()
    log.info("category_created", category_id=str(category.id), slug=slug)
    return category


@transaction.atomic
def category_update(*, category: Category, name: str | None = None, description: str | None = None) -> Category:
    if name is not None:
        category.name = name
    if description is not None:
        category.description = description
    _full_clean(category)
    _save_unique(category)
    catalog_changed()
    log.info("category_updated", category_id=str(category.id))
    return category


# --- products ---------------------------------------------------------------------------------


@transaction.atomic
def product_create(
    *,
    sku: str,
    name: str,
    price: Decimal,
    stock_on_hand: int,
    category_slug: str,
    slug: str | None = None,
    description: str = "",
    currency: str = DEFAULT_CURRENCY,
    active: bool = True,
) -> Product:
    product = Product(
        sku=sku,
        name=name,
        # Without a slug, the name plus the SKU: readable, and unique because the SKU is.
        slug=slug or slugify(f"{name} {sku}")[:220],
        description=description,
        price=price,
        currency=currency,
        stock_on_hand=stock_on_hand,
        active=active,
        category=_category_by_slug(category_slug),
    )
    _full_clean(product)
    _save_unique(product)
    catalog_changed()
    log.info("product_created", product_id=str(product.id), sku=sku, price=str(price), stock_on_hand=stock_on_hand)
    return product


@transaction.atomic
def product_update(
    *,
    product_id: uuid.UUID,
    name: str | None = None,
    description: str | None = None,
    price: Decimal | None = None,
    stock_on_hand: int | None = None,
    active: bool | None = None,
    category_slug: str | None = None,
) -> Product:
    """Change the given fields (None leaves a field as it is).

    Staff set stock on hand only; what checkouts allocated is never written here, so a value read
    before a checkout cannot give its units back. The row is locked, so a concurrent reservation
    waits and the on hand >= allocated check below sees the allocation as it is now (the database's
    check constraint holds either way).
    """
    product = Product.objects.select_for_update().select_related("category").filter(id=product_id).first()
    if product is None:
        raise ProductNotFound(product_id)
    changes = {
        "name": name,
        "description": description,
        "price": price,
        "stock_on_hand": stock_on_hand,
        "active": active,
    }
    changed = [field for field, value in changes.items() if value is not None]
    for field in changed:
        setattr(product, field, changes[field])
    if category_slug is not None:
        product.category = _category_by_slug(category_slug)
        changed.append("category")
    if not changed:
        return product
    if stock_on_hand is not None and stock_on_hand < product.stock_allocated:
        raise StockBelowAllocated(product_id=product.id, allocated=product.stock_allocated)
    _full_clean(product, exclude=["stock"])
    _save_unique(product, update_fields=[*changed, "updated_at"])
    catalog_changed()
    log.info("product_updated", product_id=str(product.id), fields=sorted(changed))
    return Product.objects.select_related("category").get(id=product.id)


# --- stock reservations -----------------------------------------------------------------------
#
# Every movement of allocated stock is a conditional UPDATE (never read-then-write) in product-id
# order, so two reservations never wait on each other in opposite orders; the check constraint
# allocated <= on hand backs it. Every change of a reservation's status is conditional on the status
# it leaves, so of two concurrent calls exactly one moves the units.


@dataclass(frozen=True)
class StockReservation:
    reservation: Reservation
    lines: list[ReservationLine]
    replayed: bool


def _validated_lines(lines: Iterable[tuple[uuid.UUID, int]]) -> dict[uuid.UUID, int]:
    wanted: dict[uuid.UUID, int] = {}
    for product_id, quantity in lines:
        if not 1 <= quantity <= MAX_RESERVATION_QUANTITY:
            raise InvalidReservation(f"Every quantity must be between 1 and {MAX_RESERVATION_QUANTITY}.")
        if product_id in wanted:
            raise InvalidReservation("Each product may appear only once in a reservation.")
        wanted[product_id] = quantity
    if not wanted:
        raise InvalidReservation("A reservation needs at least one line.")
    if len(wanted) > MAX_RESERVATION_LINES:
        raise InvalidReservation(f"A reservation has at most {MAX_RESERVATION_LINES} lines.")
    return wanted


def _replay(reservation: Reservation) -> StockReservation:
    return StockReservation(reservation=reservation, lines=list(reservation.lines.all()), replayed=True)


def _hold_expiry() -> dt.datetime:
    return timezone.now() + dt.timedelta(seconds=settings.RESERVATION_HOLD_SECONDS)


def _allocate(product_id: uuid.UUID, quantity: int) -> None:
    """Allocate `quantity` available units or fail naming why."""
    taken = Product.objects.filter(id=product_id, active=True, stock__gte=quantity).update(
        stock_allocated=F("stock_allocated") + quantity, updated_at=timezone.now()
    )
    if taken:
        return
    state = Product.objects.filter(id=product_id).values("active", "stock").first()
    if state is None:
        raise ProductNotFound(product_id)
    if not state["active"]:
        raise ProductUnavailable(product_id=product_id)
    raise InsufficientStock(product_id=product_id, available=state["stock"])


def _deallocate(lines: Iterable[ReservationLine]) -> None:
    now = timezone.now()
    for line in sorted(lines, key=lambda line: line.product_id):
        Product.objects.filter(id=line.product_id).update(
            stock_allocated=F("stock_allocated") - line.quantity, updated_at=now
        )


def _allocate_lines(reservation: Reservation, wanted: dict[uuid.UUID, int]) -> list[ReservationLine]:
    """Allocate every wanted line (all or nothing: a failure raises, the caller's transaction rolls
    back) and store the lines with the names and prices the products have now."""
    for product_id in sorted(wanted):
        _allocate(product_id, wanted[product_id])
    # The rows are locked by our updates: names and prices read now are the current ones.
    products = Product.objects.in_bulk(list(wanted))
    return ReservationLine.objects.bulk_create(
        ReservationLine(
            reservation=reservation,
            product=products[product_id],
            quantity=quantity,
            unit_price=products[product_id].price,
            currency=products[product_id].currency,
            name=products[product_id].name,
        )
        for product_id, quantity in sorted(wanted.items())
    )


def _reserve_again(reservation: Reservation, wanted: dict[uuid.UUID, int]) -> StockReservation:
    """The same order reserves after its reservation was released or expired: allocate anew.

    Its old lines no longer hold anything; the new ones take today's names and prices, as a first
    reservation would. Of two concurrent calls the first moves the status back to held and the
    other, finding it held once the first commits, answers with its lines.
    """
    reopened = Reservation.objects.filter(
        id=reservation.id, status__in=[Reservation.Status.RELEASED, Reservation.Status.EXPIRED]
    ).update(status=Reservation.Status.HELD, expires_at=_hold_expiry(), updated_at=timezone.now())
    if not reopened:
        return _replay(Reservation.objects.get(id=reservation.id))
    ReservationLine.objects.filter(reservation=reservation).delete()
    reservation.refresh_from_db()
    return StockReservation(reservation=reservation, lines=_allocate_lines(reservation, wanted), replayed=False)


def _reservation_create(order_id: uuid.UUID) -> Reservation | None:
    """A new held reservation row, or None when a concurrent call for the same order stored one first.

    The row comes before any stock moves: a concurrent call for the same order waits on the unique
    index until this transaction ends (and succeeds itself if this one rolls back).
    """
    try:
        with transaction.atomic():
            return Reservation.objects.create(order_id=order_id, expires_at=_hold_expiry())
    except IntegrityError:
        if Reservation.objects.filter(order_id=order_id).exists():
            return None
        raise  # not the race on the order id: a real integrity problem, never hidden


@transaction.atomic
def stock_reserve(*, order_id: uuid.UUID, lines: Iterable[tuple[uuid.UUID, int]]) -> StockReservation:
    """Allocate every line for the order, all or nothing; idempotent per order id.

    A held or confirmed reservation of the order is answered as it is (a replay). One that was
    released or expired holds nothing any more: it is allocated again, or refused like a new one.
    A new reservation is held until `RESERVATION_HOLD_SECONDS` from now unless the order confirms it.
    Any failing line raises and the whole transaction, reservation row included, rolls back.
    """
    wanted = _validated_lines(lines)
    try:
        existing = reservation_get(order_id=order_id)
        if existing is None and (created := _reservation_create(order_id)) is not None:
            result = StockReservation(reservation=created, lines=_allocate_lines(created, wanted), replayed=False)
        else:
            existing = existing or reservation_get(order_id=order_id)
            assert existing is not None
            if existing.status in Reservation.ALLOCATING:
                result = _replay(existing)
            else:
                result = _reserve_again(existing, wanted)
    except ApplicationError as exc:
        metrics.STOCK_RESERVATIONS.labels(outcome=exc.code).inc()
        log.info("stock_reservation_refused", order_id=str(order_id), reason=exc.code, **exc.extra)
        raise
    if result.replayed:
        metrics.STOCK_RESERVATIONS.labels(outcome="replayed").inc()
        return result
    catalog_changed()
    again = existing is not None
    metrics.STOCK_RESERVATIONS.labels(outcome="reserved-again" if again else "reserved").inc()
    metrics.UNITS_RESERVED.inc(sum(wanted.values()))
    log.info("stock_reserved", order_id=str(order_id), lines=len(result.lines), units=sum(wanted.values()), again=again)
    return result


@transaction.atomic
def stock_release(*, order_id: uuid.UUID) -> bool:
    """Give the order's allocated units back (held or confirmed); idempotent. False when nothing was held."""
    released = Reservation.objects.filter(order_id=order_id, status__in=Reservation.ALLOCATING).update(
        status=Reservation.Status.RELEASED, expires_at=None, updated_at=timezone.now()
    )
    if not released:
        metrics.STOCK_RELEASES.labels(outcome="nothing-held").inc()
        log.info("stock_release_skipped", order_id=str(order_id))
        return False
    lines = list(ReservationLine.objects.filter(reservation__order_id=order_id))
    _deallocate(lines)
    catalog_changed()
    metrics.STOCK_RELEASES.labels(outcome="released").inc()
    log.info("stock_released", order_id=str(order_id), lines=len(lines))
    return True


@transaction.atomic
def stock_confirm(*, order_id: uuid.UUID) -> bool:
    """The order holding this reservation was confirmed: keep its units allocated, no expiry. Idempotent.

    True when this call confirmed it, False when it was confirmed already. A reservation that expired
    (its order confirmed too late: products or the broker were down past the hold) is allocated again
    if the units are still there, else InsufficientStock names the product. One released on purpose
    (the checkout failed, the order was cancelled) stays released: ReservationReleased.
    """
    confirmed = Reservation.objects.filter(order_id=order_id, status=Reservation.Status.HELD).update(
        status=Reservation.Status.CONFIRMED, expires_at=None, updated_at=timezone.now()
    )
    if confirmed:
        metrics.STOCK_CONFIRMATIONS.labels(outcome="confirmed").inc()
        log.info("stock_reservation_confirmed", order_id=str(order_id))
        return True
    reservation = reservation_get(order_id=order_id)
    if reservation is None:
        metrics.STOCK_CONFIRMATIONS.labels(outcome="not-found").inc()
        raise ReservationNotFound(order_id=order_id)
    if reservation.status == Reservation.Status.CONFIRMED:
        metrics.STOCK_CONFIRMATIONS.labels(outcome="already-confirmed").inc()
        return False
    if reservation.status == Reservation.Status.RELEASED:
        metrics.STOCK_CONFIRMATIONS.labels(outcome="released").inc()
        log.info("stock_confirm_of_released_reservation", order_id=str(order_id))
        raise ReservationReleased(order_id=order_id)
    wanted = {line.product_id: line.quantity for line in reservation.lines.all()}
    try:
        with transaction.atomic():
            reopened = Reservation.objects.filter(id=reservation.id, status=Reservation.Status.EXPIRED).update(
                status=Reservation.Status.CONFIRMED, updated_at=timezone.now()
            )
            if not reopened:  # a concurrent call moved it: answer from where it is now
                return stock_confirm(order_id=order_id)
            ReservationLine.objects.filter(reservation=reservation).delete()
            _allocate_lines(reservation, wanted)
    except ApplicationError as exc:
        metrics.STOCK_CONFIRMATIONS.labels(outcome="expired-sold").inc()
        log.error("stock_confirm_after_expiry_failed", order_id=str(order_id), reason=exc.code, **exc.extra)
        raise
    catalog_changed()
    metrics.STOCK_CONFIRMATIONS.labels(outcome="reallocated").inc()
    log.warning("stock_reservation_confirmed_after_expiry", order_id=str(order_id), units=sum(wanted.values()))
    return True


def stock_expire_holds(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Give back the units of held reservations past their `expires_at` (no order confirmed them).

    A crashed or misbehaving caller, or an order the orders service never stored, would otherwise
    hold stock forever. Each reservation expires in its own short transaction; of a confirm racing
    an expiry exactly one wins (both are conditional on `held`). Returns how many expired.
    """
    cutoff = now or timezone.now()
    due = list(
        Reservation.objects.filter(status=Reservation.Status.HELD, expires_at__lt=cutoff)
        .order_by("expires_at")
        .values_list("id", "order_id")[:limit]
    )
    expired = 0
    for reservation_id, order_id in due:
        with transaction.atomic():
            moved = Reservation.objects.filter(id=reservation_id, status=Reservation.Status.HELD).update(
                status=Reservation.Status.EXPIRED, expires_at=None, updated_at=timezone.now()
            )
            if not moved:
                continue
            lines = list(ReservationLine.objects.filter(reservation_id=reservation_id))
            _deallocate(lines)
        expired += 1
        metrics.UNITS_EXPIRED.inc(sum(line.quantity for line in lines))
        log.warning("stock_reservation_expired", order_id=str(order_id), lines=len(lines))
    if expired:
        catalog_changed()
        metrics.STOCK_RELEASES.labels(outcome="expired").inc(expired)
    return expired
