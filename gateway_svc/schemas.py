"""Request and response shapes of the public API: requests are bounded here, before any downstream call."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from ninja import Schema
from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

MONEY_PATTERN = r"^-?\d+(\.\d+)?$"
# What products stores (max_digits=10, decimal_places=2, never negative), as a decimal string: a JSON
# number cannot say "at most two decimal places" exactly (0.1 + 0.2 is not 0.3).
PRICE_PATTERN = r"^\d{1,8}(\.\d{1,2})?$"
SLUG_PATTERN = r"^[-a-zA-Z0-9_]+$"
# The products service's own rule for a SKU.
SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
# Text the services can store: PostgreSQL text holds no NUL, and every body parser refuses one
# (shopkit.parsers). The second form is for text the services trim and require: not blank.
TEXT_PATTERN = r"^[^\x00]*$"
NOT_BLANK_TEXT_PATTERN = r"^[^\x00]*[^\x00\s][^\x00]*$"
# Visible ASCII only: the key is forwarded as a header and stored by orders; a refresh token is a JWT.
VISIBLE_ASCII_PATTERN = r"^[\x21-\x7e]+$"
IDEMPOTENCY_KEY_PATTERN = VISIBLE_ASCII_PATTERN


class Input(Schema):
    """A request body: the documented fields only (`additionalProperties: false`), anything else a 400."""

    model_config = ConfigDict(extra="forbid")


def _integral(value: Any) -> Any:
    """JSON Schema's `integer` includes 6.0: take it as 6 (and forward 6), refuse 6.5, "6" and true."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _wire_bool(value: Any) -> Any:
    """A query flag as OpenAPI serializes a boolean: `true` or `false`, nothing pydantic would also read."""
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise ValueError("Input should be true or false.")


def absent() -> Any:
    """An optional field that is not nullable: left out it is not forwarded, null is refused."""
    return Field(default=None)


def _valid_email(value: str) -> str:
    try:
        validate_email(value)
    except DjangoValidationError as exc:
        raise ValueError("Enter a valid e-mail address.") from exc
    return value


Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=254),
    AfterValidator(_valid_email),
    Field(json_schema_extra={"format": "email"}),
]
Name = Annotated[str, StringConstraints(max_length=150, pattern=TEXT_PATTERN)]
NewPassword = Annotated[str, StringConstraints(min_length=8, max_length=128, pattern=TEXT_PATTERN)]
AnyPassword = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=TEXT_PATTERN)]
RefreshToken = Annotated[str, StringConstraints(min_length=1, max_length=4096, pattern=VISIBLE_ASCII_PATTERN)]
# Products keeps category slugs to 80 characters.
Slug = Annotated[str, StringConstraints(min_length=1, max_length=80, pattern=SLUG_PATTERN)]
Price = Annotated[str, StringConstraints(pattern=PRICE_PATTERN), Field(examples=["19.99"])]
Stock = Annotated[int, Field(ge=0, le=1_000_000, strict=True), BeforeValidator(_integral)]
Quantity = Annotated[int, Field(ge=1, le=99, strict=True), BeforeValidator(_integral)]
ProductName = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NOT_BLANK_TEXT_PATTERN)]
Description = Annotated[str, StringConstraints(max_length=5000, pattern=TEXT_PATTERN)]
Search = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=NOT_BLANK_TEXT_PATTERN)]
QueryBool = Annotated[bool, BeforeValidator(_wire_bool)]
Money = Annotated[str, Field(pattern=MONEY_PATTERN, examples=["19.99"])]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Ordering = Literal["price", "-price", "name", "-name", "created_at", "-created_at"]


class Problem(Schema):
    """RFC 9457 problem details; some problems add fields (`errors`, `product_id`, `available`, `header`)."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    trace_id: str
    errors: dict[str, Any] | None = None


# -- accounts -------------------------------------------------------------------------------------
class RegisterIn(Input):
    email: Email
    password: NewPassword
    first_name: Name = ""
    last_name: Name = ""


class LoginIn(Input):
    email: Email
    password: AnyPassword


class RefreshIn(Input):
    refresh: RefreshToken


class TokenPairOut(Schema):
    access: str
    refresh: str
    token_type: str
    expires_in: int


class UserOut(Schema):
    id: uuid.UUID
    email: str
    first_name: str
    last_name: str
    is_staff: bool
    date_joined: datetime


class ProfilePatchIn(Input):
    first_name: Name = absent()
    last_name: Name = absent()


class PasswordChangeIn(Input):
    current_password: AnyPassword
    new_password: NewPassword


# -- catalog --------------------------------------------------------------------------------------
class CategoryOut(Schema):
    id: uuid.UUID
    slug: str
    name: str
    description: str = ""


class CategoryListOut(Schema):
    items: list[CategoryOut]
    count: int


class CategoryRefOut(Schema):
    id: uuid.UUID
    slug: str
    name: str


class ProductOut(Schema):
    id: uuid.UUID
    sku: str
    name: str
    slug: str
    description: str
    price: Money
    currency: str
    stock: int = Field(description="Units available: on hand minus allocated to orders.")
    active: bool
    category: CategoryRefOut
    created_at: datetime
    updated_at: datetime
    # Staff only (absent for customers).
    stock_on_hand: int | None = Field(default=None, description="Staff only: units on hand (what staff set).")
    stock_allocated: int | None = Field(
        default=None, description="Staff only: units allocated to checkouts and confirmed orders."
    )


class ProductListOut(Schema):
    items: list[ProductOut]
    count: int
    page: int
    page_size: int


class Pagination(Schema):
    page: int = Field(default=1, ge=1, le=100_000)
    page_size: int = Field(default=20, ge=1, le=100)


class ProductFilters(Pagination):
    """Each filter is left out or given a value: a query string has no null, and an empty value is refused."""

    category: Slug = absent()
    min_price: Price = absent()
    max_price: Price = absent()
    in_stock: QueryBool = absent()
    search: Search = absent()
    ordering: Ordering = absent()

    def as_params(self) -> dict[str, str]:
        params: dict[str, str] = {}
        for name, value in self.model_dump(exclude_none=True).items():
            params[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
        return params


class ProductCreateIn(Input):
    """A new product; its stock is given as `stock_on_hand` or as `stock`, exactly one of the two."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"oneOf": [{"required": ["stock_on_hand"]}, {"required": ["stock"]}]}
    )

    sku: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=SKU_PATTERN)]
    name: ProductName
    slug: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=SLUG_PATTERN)] = absent()
    description: Description = absent()
    price: Price
    currency: Currency = absent()
    # Exactly one of the two (products answers 400 otherwise): a new product has nothing allocated, so
    # its first `stock` is what is on hand.
    stock_on_hand: Stock = absent()
    stock: Stock = absent()
    active: bool = absent()
    category: Slug

    @model_validator(mode="after")
    def _one_stock(self) -> ProductCreateIn:
        given = {"stock_on_hand", "stock"} & self.model_fields_set
        if not given:
            raise PydanticCustomError("stock_required", "Give stock_on_hand or stock.")
        if len(given) == 2:
            raise PydanticCustomError("stock_twice", "Give stock_on_hand or stock, not both.")
        return self


class ProductPatchIn(Input):
    """Staff set stock on hand only: available (`stock`) and allocated follow from it and from checkouts,
    and writing either with a value read earlier would sell units twice."""

    name: ProductName = absent()
    description: Description = absent()
    price: Price = absent()
    stock_on_hand: Stock = absent()
    active: bool = absent()
    category: Slug = absent()


# -- cart -----------------------------------------------------------------------------------------
class CartItemIn(Input):
    product_id: uuid.UUID
    quantity: Quantity


class CartQuantityIn(Input):
    quantity: Quantity


class LineOut(Schema):
    product_id: uuid.UUID
    name: str
    quantity: int
    unit_price: Money
    line_total: Money


class CartOut(Schema):
    lines: list[LineOut]
    total: Money
    currency: str


# -- orders ---------------------------------------------------------------------------------------
class OrderHistoryOut(Schema):
    status: str
    at: datetime
    note: str


class OrderOut(Schema):
    id: uuid.UUID
    status: Literal["pending", "confirmed", "cancelled", "failed"]
    lines: list[LineOut]
    total: Money
    currency: str
    created_at: datetime
    updated_at: datetime
    history: list[OrderHistoryOut]


class OrderListOut(Schema):
    items: list[OrderOut]
    count: int
    page: int
    page_size: int


# -- health ---------------------------------------------------------------------------------------
class HealthOut(Schema):
    """The shop is up; per-dependency detail stays on the internal readiness endpoints."""

    status: Literal["ok"]


def json_body(payload: Schema) -> dict[str, Any]:
    """What the gateway forwards: only the fields the caller set, validated, money as decimal strings."""
    body: dict[str, Any] = payload.model_dump(mode="json", exclude_unset=True)
    return body
