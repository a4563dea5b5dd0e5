"""Writes of the catalog: categories, products, and stock reservations that never oversell."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

import structlog
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
    stock: int,
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
        stock=stock,
        active=active,
        category=_category_by_slug(category_slug),
    )
    _full_clean(product)
    _save_unique(product)
    catalog_changed()
    log.info("product_created", product_id=str(product.id), sku=sku, price=str(price), stock=stock)
    return product


@transaction.atomic
def product_update(
    *,
    product_id: uuid.UUID,
    name: str | None = None,
    description: str | None = None,
    price: Decimal | None = None,
    stock: int | None = None,
    active: bool | None = None,
    category_slug: str | None = None,
) -> Product:
    """Change the given fields (None leaves a field as it is). The row is locked so a concurrent
    reservation's stock change is not overwritten by a stale value."""
    product = Product.objects.select_for_update().select_related("category").filter(id=product_id).first()
    if product is None:
        raise ProductNotFound(product_id)
    changes = {
        "name": name,
        "description": description,
        "price": price,
        "stock": stock,
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
    _full_clean(product)
    _save_unique(product, update_fields=[*changed, "updated_at"])
    catalog_changed()
    log.info("product_updated", product_id=str(product.id), fields=sorted(changed))
    return product


# --- stock reservations -----------------------------------------------------------------------


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


def _take(product_id: uuid.UUID, quantity: int) -> None:
    """Take `quantity` units or fail naming why; a conditional UPDATE, never read-then-write."""
    taken = Product.objects.filter(id=product_id, active=True, stock__gte=quantity).update(
        stock=F("stock") - quantity, updated_at=timezone.now()
    )
    if taken:
        return
    state = Product.objects.filter(id=product_id).values("active", "stock").first()
    if state is None:
        raise ProductNotFound(product_id)
    if not state["active"]:
        raise ProductUnavailable(product_id=product_id)
    raise InsufficientStock(product_id=product_id, available=state["stock"])


@transaction.atomic
def stock_reserve(*, order_id: uuid.UUID, lines: Iterable[tuple[uuid.UUID, int]]) -> StockReservation:
    """Reserve every line for the order, all or nothing; idempotent per order id.

    Stock moves with conditional updates in product-id order (so two reservations never wait on each
    other in opposite orders), backed by the stock >= 0 check constraint. Any failing line raises and
    the whole transaction, reservation row included, rolls back.
    """
    wanted = _validated_lines(lines)
    try:
        existing = reservation_get(order_id=order_id)
        if existing is not None:
            metrics.STOCK_RESERVATIONS.labels(outcome="replayed").inc()
            return _replay(existing)
        try:
            # The reservation row first: a concurrent call for the same order waits on the unique index.
            with transaction.atomic():
                reservation = Reservation.objects.create(order_id=order_id)
        except IntegrityError:
            existing = reservation_get(order_id=order_id)
            if existing is None:
                raise
            metrics.STOCK_RESERVATIONS.labels(outcome="replayed").inc()
            return _replay(existing)
        for product_id in sorted(wanted):
            _take(product_id, wanted[product_id])
        # The rows are locked by our updates: names and prices read now are the current ones.
        products = Product.objects.in_bulk(list(wanted))
        reserved = ReservationLine.objects.bulk_create(
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
    except ApplicationError as exc:
        metrics.STOCK_RESERVATIONS.labels(outcome=exc.code).inc()
        log.info("stock_reservation_refused", order_id=str(order_id), reason=exc.code, **exc.extra)
        raise
    catalog_changed()
    metrics.STOCK_RESERVATIONS.labels(outcome="reserved").inc()
    metrics.UNITS_RESERVED.inc(sum(wanted.values()))
    log.info("stock_reserved", order_id=str(order_id), lines=len(reserved), units=sum(wanted.values()))
    return StockReservation(reservation=reservation, lines=reserved, replayed=False)


@transaction.atomic
def stock_release(*, order_id: uuid.UUID) -> bool:
    """Give the order's held units back; idempotent. False when nothing was held."""
    # Conditional status change: of two concurrent releases exactly one sees the row as held.
    released = Reservation.objects.filter(order_id=order_id, status=Reservation.Status.HELD).update(
        status=Reservation.Status.RELEASED, updated_at=timezone.now()
    )
    if not released:
        metrics.STOCK_RELEASES.labels(outcome="nothing-held").inc()
        log.info("stock_release_skipped", order_id=str(order_id))
        return False
    lines = ReservationLine.objects.filter(reservation__order_id=order_id).order_by("product_id")
    now = timezone.now()
    for line in lines:
        Product.objects.filter(id=line.product_id).update(stock=F("stock") + line.quantity, updated_at=now)
    catalog_changed()
    metrics.STOCK_RELEASES.labels(outcome="released").inc()
    log.info("stock_released", order_id=str(order_id), lines=len(lines))
    return True
