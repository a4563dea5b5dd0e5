"""Error codes and application errors of the orders app (each becomes a problem-details response)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shopkit.errors import ApplicationError, Conflict, ErrorCode, NotFound, ServiceUnavailable, Unprocessable

if TYPE_CHECKING:
    from order_svc.orders.models import Order


class OrdersErrorCode(ErrorCode):
    ORDER_NOT_FOUND = "order-not-found"
    ORDER_NOT_CANCELLABLE = "order-not-cancellable"
    IDEMPOTENCY_KEY_REQUIRED = "idempotency-key-required"
    INVALID_IDEMPOTENCY_KEY = "invalid-idempotency-key"
    EMPTY_CART = "empty-cart"
    CART_TOO_LARGE = "cart-too-large"
    CARTS_UNAVAILABLE = "carts-unavailable"
    PRODUCTS_UNAVAILABLE = "products-unavailable"
    INSUFFICIENT_STOCK = "insufficient-stock"
    PRODUCT_UNAVAILABLE = "product-unavailable"
    PRODUCT_NOT_FOUND = "product-not-found"
    MIXED_CURRENCIES = "mixed-currencies"
    TOTAL_TOO_LARGE = "order-total-too-large"
    CHECKOUT_ABANDONED = "checkout-abandoned"


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
        super().__init__("The cart is empty: there is nothing to order.", code=OrdersErrorCode.EMPTY_CART)


class CartTooLarge(Unprocessable):
    def __init__(self, *, max_lines: int) -> None:
        super().__init__(
            f"An order holds at most {max_lines} different products.",
            code=OrdersErrorCode.CART_TOO_LARGE,
            extra={"max_lines": max_lines},
        )


class CartsUnavailable(ServiceUnavailable):
    def __init__(self) -> None:
        super().__init__(
            "The cart cannot be read right now; nothing was ordered. Try again shortly.",
            code=OrdersErrorCode.CARTS_UNAVAILABLE,
        )


class ProductsUnavailable(ServiceUnavailable):
    def __init__(self, *, order_id: str) -> None:
        super().__init__(
            "Stock cannot be reserved right now. Retry with the same Idempotency-Key to complete this order.",
            code=OrdersErrorCode.PRODUCTS_UNAVAILABLE,
            extra={"order_id": order_id},
        )


class CheckoutFailed(Conflict):
    """A checkout that failed for good; its first answer and every replay of its key are this problem."""

    @classmethod
    def for_order(cls, order: Order) -> CheckoutFailed:
        from order_svc.orders.models import MONEY_MAX, FailureReason

        product_id = str(order.failure_product_id) if order.failure_product_id else None
        extra: dict[str, object] = {"order_id": str(order.id)}
        status = cls.status
        if product_id is not None:
            extra["product_id"] = product_id
        match order.failure_reason:
            case FailureReason.INSUFFICIENT_STOCK:
                available = order.failure_available or 0
                extra["available"] = available
                detail = f"Only {available} unit(s) of product {product_id} are in stock."
                code = OrdersErrorCode.INSUFFICIENT_STOCK
            case FailureReason.PRODUCT_UNAVAILABLE:
                detail = f"Product {product_id} is no longer sold."
                code = OrdersErrorCode.PRODUCT_UNAVAILABLE
            case FailureReason.PRODUCT_NOT_FOUND:
                detail = f"Product {product_id} does not exist any more."
                code = OrdersErrorCode.PRODUCT_NOT_FOUND
            case FailureReason.MIXED_CURRENCIES:
                detail = "The cart's products are priced in different currencies; order them separately."
                code = OrdersErrorCode.MIXED_CURRENCIES
            case FailureReason.TOTAL_TOO_LARGE:
                detail = f"An order's total may be at most {MONEY_MAX}; order fewer units or split the order."
                code = OrdersErrorCode.TOTAL_TOO_LARGE
                extra["max_total"] = str(MONEY_MAX)
                status = 422  # nothing conflicts: this cart can never be one order
            case _:
                detail = "The checkout was not completed in time; check out again with a new Idempotency-Key."
                code = OrdersErrorCode.CHECKOUT_ABANDONED
        return cls(
            f"{detail} The order failed; nothing was charged or reserved.",
            code=code,
            extra=extra,
            status=status,
            title=Unprocessable.title if status == Unprocessable.status else None,
        )
