"""Reads the caller's cart from the carts service (HTTP, the caller's own token); checkout's only use of carts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import structlog
from django.conf import settings

from order_svc.orders.errors import CartsUnavailable
from shopkit.faults import fault_enabled
from shopkit.process import ProcessLocal

log = structlog.get_logger(__name__)

# Carts allows 1..99 units per line; anything outside is a broken answer, not an order.
MAX_LINE_QUANTITY = 99
# A bound on what is read at all; the checkout's own limit on lines is lower (services.MAX_ORDER_LINES).
MAX_CART_LINES_READ = 1000


@dataclass(frozen=True)
class CartLine:
    product_id: uuid.UUID
    quantity: int


@dataclass(frozen=True)
class Cart:
    """What checkout takes from a cart: products and quantities. Names and prices come from products."""

    lines: tuple[CartLine, ...]
    currency: str


# One pooled client per process, made on first use (after tracing instrumented httpx).
_client: ProcessLocal[httpx.Client] = ProcessLocal(
    lambda: httpx.Client(timeout=settings.CARTS_TIMEOUT_SECONDS), close=httpx.Client.close
)


def cart_fetch(*, authorization: str) -> Cart:
    """GET {CARTS_URL}/api/cart as the caller; CartsUnavailable when carts is down, slow or answers nonsense."""
    url = f"{settings.CARTS_URL.rstrip('/')}/api/cart"
    headers = {"Authorization": authorization, "Accept": "application/json"}
    if request_id := structlog.contextvars.get_contextvars().get("request_id"):
        headers["X-Request-ID"] = str(request_id)
    if fault_enabled("carts-unavailable"):  # a fault switch (docs/faults.md): as if carts were unreachable
        log.warning("carts_unreachable", url=url, error="fault carts-unavailable is on", error_type="FaultInjected")
        raise CartsUnavailable
    try:
        response = _client.get().get(url, headers=headers, timeout=settings.CARTS_TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        log.warning("carts_unreachable", url=url, error=str(exc), error_type=type(exc).__name__)
        raise CartsUnavailable from exc
    if response.status_code != 200:
        log.warning("carts_bad_status", url=url, status=response.status_code)
        raise CartsUnavailable
    try:
        return _parse_cart(response.json())
    except (ValueError, TypeError, KeyError) as exc:
        log.error("carts_invalid_answer", url=url, error=str(exc))
        raise CartsUnavailable from exc


def _parse_cart(body: Any) -> Cart:
    """Validate the carts contract strictly; duplicate products (never expected) are merged."""
    if not isinstance(body, dict) or not isinstance(body.get("lines"), list):
        raise ValueError("the cart is not an object with a list of lines")
    raw_lines: list[Any] = body["lines"]
    if len(raw_lines) > MAX_CART_LINES_READ:
        raise ValueError("the cart has implausibly many lines")
    quantities: dict[uuid.UUID, int] = {}
    for raw in raw_lines:
        if not isinstance(raw, dict):
            raise TypeError("a cart line is not an object")
        product_id = uuid.UUID(str(raw["product_id"]))
        quantity = raw["quantity"]
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_LINE_QUANTITY:
            raise ValueError(f"quantity out of range for {product_id}")
        quantities[product_id] = quantities.get(product_id, 0) + quantity
    currency = body.get("currency") or "USD"
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isascii() or not currency.isupper():
        raise ValueError("the cart's currency is not an ISO 4217 code")
    return Cart(lines=tuple(CartLine(product_id=p, quantity=q) for p, q in quantities.items()), currency=currency)
