"""Error codes and application errors of the carts app (each becomes a problem-details response).

Product errors (unknown, inactive, not enough stock, products down) are the ones
`shopkit.grpc.products` raises; they already name the product and, for stock, the units available.
"""

from __future__ import annotations

import uuid

from shopkit.errors import ApplicationError, Conflict, ErrorCode, NotFound


class CartsErrorCode(ErrorCode):
    CART_LINE_NOT_FOUND = "cart-line-not-found"
    INVALID_QUANTITY = "invalid-quantity"
    LINE_QUANTITY_LIMIT = "line-quantity-limit"
    CART_FULL = "cart-full"
    CURRENCY_MISMATCH = "currency-mismatch"


class CartLineNotFound(NotFound):
    def __init__(self, product_id: uuid.UUID | str) -> None:
        super().__init__(
            "The product is not in the cart.",
            code=CartsErrorCode.CART_LINE_NOT_FOUND,
            extra={"product_id": str(product_id)},
        )


class InvalidQuantity(ApplicationError):
    def __init__(self, *, minimum: int, maximum: int) -> None:
        message = f"Ensure this value is between {minimum} and {maximum}."
        super().__init__(
            "The quantity is out of range.",
            code=CartsErrorCode.INVALID_QUANTITY,
            extra={"errors": {"quantity": [message]}},
        )


class LineQuantityLimit(ApplicationError):
    """Adding would take a line past the per-line maximum: the request is bad, not the cart."""

    def __init__(self, *, product_id: uuid.UUID, in_cart: int, maximum: int) -> None:
        message = f"A cart line holds at most {maximum} units; this one already has {in_cart}."
        super().__init__(
            message,
            code=CartsErrorCode.LINE_QUANTITY_LIMIT,
            extra={"product_id": str(product_id), "errors": {"quantity": [message]}},
        )


class CartFull(Conflict):
    def __init__(self, *, maximum: int) -> None:
        super().__init__(
            f"A cart holds at most {maximum} different products; remove one first.",
            code=CartsErrorCode.CART_FULL,
        )


class CurrencyMismatch(Conflict):
    """One cart is one order with one total: all its products must be priced in one currency."""

    def __init__(self, *, product_id: uuid.UUID, currency: str, cart_currency: str) -> None:
        super().__init__(
            f"The product is priced in {currency}, the cart in {cart_currency}; order it separately.",
            code=CartsErrorCode.CURRENCY_MISMATCH,
            extra={"product_id": str(product_id)},
        )
