"""Error codes, checkout failure reasons and application errors of the orders app (each a problem-details response)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models

from shopkit.errors import ApplicationError, Conflict, ErrorCode, NotFound, ServiceUnavailable, Unprocessable

if TYPE_CHECKING:
    from order_svc.orders.models import Order


class OrdersErrorCode(ErrorCode):
    """Problem types of the orders API besides a failed checkout's (those are FailureReason.code)."""

    ORDER_NOT_FOUND = "order-not-found"
    ORDER_NOT_CANCELLABLE = "order-not-cancellable"
    IDEMPOTENCY_KEY_REQUIRED = "idempotency-key-required"
    INVALID_IDEMPOTENCY_KEY = "invalid-idempotency-key"


class FailureReason(models.TextChoices):
    """Why a checkout did not place an order: the one vocabulary of the order's `failure_reason`, the
    `reason` label of shop_checkout_failures_total and (`code`) the problem type the API answers with.

    The first four fail a checkout call and store nothing final: no order (cart unreadable, empty or too
    large) or the order stays pending for a retry of its key (products unreachable). The others fail the
    order for good (FINAL_FAILURE_REASONS); a replay of its idempotency key answers with the same problem.
    """

    CARTS_UNAVAILABLE = "carts_unavailable", "Carts unavailable"
    EMPTY_CART = "empty_cart", "Empty cart"
    CART_TOO_LARGE = "cart_too_large", "Cart too large"
    PRODUCTS_UNAVAILABLE = "products_unavailable", "Products unavailable"
    INSUFFICIENT_STOCK = "insufficient_stock", "Insufficient stock"
    PRODUCT_UNAVAILABLE = "product_unavailable", "Product unavailable"
    PRODUCT_NOT_FOUND = "product_not_found", "Product not found"
    MIXED_CURRENCIES = "mixed_currencies", "Mixed currencies"
    TOTAL_TOO_LARGE = "total_too_large", "Total too large"
    ABANDONED = "abandoned", "Abandoned while pending"

    @property
    def code(self) -> str:
        """The problem type slug: the reason's name with hyphens, but for two published otherwise."""
        return _PUBLISHED_CODES.get(self, self.value.replace("_", "-"))


_PUBLISHED_CODES: dict[FailureReason, str] = {
    FailureReason.TOTAL_TOO_LARGE: "order-total-too-large",
    FailureReason.ABANDONED: "checkout-abandoned",
}

# The reasons an order is stored failed with (Order.failure_reason's choices).
FINAL_FAILURE_REASONS: tuple[FailureReason, ...] = (
    FailureReason.INSUFFICIENT_STOCK,
    FailureReason.PRODUCT_UNAVAILABLE,
    FailureReason.PRODUCT_NOT_FOUND,
    FailureReason.MIXED_CURRENCIES,
    FailureReason.TOTAL_TOO_LARGE,
    FailureReason.ABANDONED,
)


class OrderNotFound(NotFound):
    """Unknown, malformed or someone else's order id: one answer, so order ids cannot be probed."""

    def __init__(self) -> None:
        super().__init__("The order does not exist.", code=OrdersErrorCode.ORDER_NOT_FOUND)


class OrderNotCancellable(Conflict):
    def __init__(self, *, status: str) -> None:
        super().__init__(
            f"An order that is {status} cannot be cancelled; only confirmed orders can.",
            code=OrdersErrorCode.ORDER_NOT_CANCELLABLE,
            extra={"order_status": status},
        )


class IdempotencyKeyRequired(ApplicationError):
    def __init__(self) -> None:
        super().__init__(
            "Checkout needs an Idempotency-Key header: the same key always answers with the same order.",
            code=OrdersErrorCode.IDEMPOTENCY_KEY_REQUIRED,
            extra={"errors": {"Idempotency-Key": ["This header is required."]}},
        )


class InvalidIdempotencyKey(ApplicationError):
    def __init__(self, *, max_length: int) -> None:
        message = f"Use 1 to {max_length} printable ASCII characters without spaces."
        super().__init__(
            "The Idempotency-Key header is invalid.",
            code=OrdersErrorCode.INVALID_IDEMPOTENCY_KEY,
            extra={"errors": {"Idempotency-Key": [message]}},
        )


class EmptyCart(Unprocessable):
    def __init__(self) -> None:
        super().__init__("The cart is empty: there is nothing to order.", code=FailureReason.EMPTY_CART.code)


class CartTooLarge(Unprocessable):
    def __init__(self, *, max_lines: int) -> None:
        super().__init__(
            f"An order holds at most {max_lines} different products.",
            code=FailureReason.CART_TOO_LARGE.code,
            extra={"max_lines": max_lines},
        )


class CartsUnavailable(ServiceUnavailable):
    def __init__(self) -> None:
        super().__init__(
            "The cart cannot be read right now; nothing was ordered. Try again shortly.",
            code=FailureReason.CARTS_UNAVAILABLE.code,
        )


class ProductsUnavailable(ServiceUnavailable):
    def __init__(self, *, order_id: str) -> None:
        super().__init__(
            "Stock cannot be reserved right now. Retry with the same Idempotency-Key to complete this order.",
            code=FailureReason.PRODUCTS_UNAVAILABLE.code,
            extra={"order_id": order_id},
        )


class CheckoutFailed(Conflict):
    """A checkout that failed for good; its first answer and every replay of its key are this problem."""

    @classmethod
    def for_order(cls, order: Order) -> CheckoutFailed:
        from order_svc.orders.models import MONEY_MAX

        reason = FailureReason(order.failure_reason)
        product_id = str(order.failure_product_id) if order.failure_product_id else None
        extra: dict[str, object] = {"order_id": str(order.id)}
        status = cls.status
        if product_id is not None:
            extra["product_id"] = product_id
        match reason:
            case FailureReason.INSUFFICIENT_STOCK:
                available = order.failure_available or 0
                extra["available"] = available
                detail = f"Only {available} unit(s) of product {product_id} are in stock."
            case FailureReason.PRODUCT_UNAVAILABLE:
                detail = f"Product {product_id} is no longer sold."
            case FailureReason.PRODUCT_NOT_FOUND:
                detail = f"Product {product_id} does not exist any more."
            case FailureReason.MIXED_CURRENCIES:
                detail = "The cart's products are priced in different currencies; order them separately."
            case FailureReason.TOTAL_TOO_LARGE:
                detail = f"An order's total may be at most {MONEY_MAX}; order fewer units or split the order."
                extra["max_total"] = str(MONEY_MAX)
                status = 422  # nothing conflicts: this cart can never be one order
            case _:
                detail = "The checkout was not completed in time; check out again with a new Idempotency-Key."
        return cls(
            f"{detail} The order failed; nothing was charged or reserved.",
            code=reason.code,
            extra=extra,
            status=status,
            title=Unprocessable.title if status == Unprocessable.status else None,
        )
