"""The event contracts: one frozen, typed class per event type and version, for producers and consumers alike.

A producer builds an instance and passes it to `shopkit.events.emit_event` (topic, key and subject
come from the class); a consumer's handler turns the envelope it receives back into the same class
with `Contract.from_event(event)`. `docs/events/` holds the JSON Schemas and the AsyncAPI document
generated from these classes (`make event-schemas`); `make lint` fails when they are stale or when a
published version changed incompatibly (tools/check_event_schemas.py). An incompatible change is a
new class with the next version (`...V2`, type `....v2`), emitted beside the old one until no
consumer reads the old one (docs/guides/events.md).
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from shopkit.events.errors import InvalidEvent

if TYPE_CHECKING:
    # Only for annotations: every service's settings import TOPIC_OWNERS from here, before Django is set up.
    from shopkit.events.envelope import Event

USERS_TOPIC = "shop.users"
ORDERS_TOPIC = "shop.orders"
# topic -> the CloudEvents `source` of the only service that writes it (settings' SHOP_EVENT_TOPIC_OWNERS;
# consumers dead-letter an event from any other source).
TOPIC_OWNERS: dict[str, str] = {USERS_TOPIC: "/shop/users", ORDERS_TOPIC: "/shop/orders"}

# Money on the wire: a decimal string with two places ("19.90"), never a JSON number (no float rounding).
Money = Annotated[
    Decimal,
    Field(decimal_places=2),
    WithJsonSchema({"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{2}$"}),
]
# An RFC 3339 timestamp with its offset, written as Python's isoformat() ("...+00:00", as before the contracts).
Timestamp = Annotated[
    AwareDatetime,
    PlainSerializer(dt.datetime.isoformat, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class EventContract(BaseModel):
    """The `data` of one event type and version. Subclasses set the class variables and the fields."""

    # Unknown fields are ignored, so adding an optional field to a published version stays compatible
    # with consumers deployed before it (tools/check_event_schemas.py allows only such changes).
    model_config = ConfigDict(frozen=True, extra="ignore")

    event_type: ClassVar[str]
    topic: ClassVar[str]
    # The field holding the aggregate id: the Kafka key (one aggregate's events stay ordered) and the subject.
    key_field: ClassVar[str]
    # The consumer groups that handle this event (each consumer's test checks its handlers against it).
    consumed_by: ClassVar[tuple[str, ...]] = ()

    @property
    def key(self) -> str:
        return str(getattr(self, self.key_field))

    @classmethod
    def from_event(cls, event: Event) -> Self:
        """The event's data as this contract; a pydantic `ValidationError` when it does not match."""
        if event.type != cls.event_type:
            raise InvalidEvent(f"{cls.__name__} parses {cls.event_type}, not {event.type}")
        return cls.model_validate(event.data)

    def wire_data(self) -> dict[str, Any]:
        """`data` as plain JSON values, exactly as it is written into the envelope."""
        return self.model_dump(mode="json")


class UserRegisteredV1(EventContract):
    """A customer account was created (registration, or staff creating an account)."""

    event_type: ClassVar[str] = "shop.user.registered.v1"
    topic: ClassVar[str] = USERS_TOPIC
    key_field: ClassVar[str] = "user_id"

    user_id: uuid.UUID
    email: str
    registered_at: Timestamp


class OrderLineV1(BaseModel):
    """One line of an order as events carry it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    product_id: uuid.UUID
    quantity: int = Field(ge=1)
    unit_price: Money


class OrderConfirmedV1(EventContract):
    """A checkout confirmed an order: its stock is reserved and the customer owes its total."""

    event_type: ClassVar[str] = "shop.order.confirmed.v1"
    topic: ClassVar[str] = ORDERS_TOPIC
    key_field: ClassVar[str] = "order_id"
    # carts empties the ordered products out of the cart; products confirms the reservation.
    consumed_by: ClassVar[tuple[str, ...]] = ("carts", "products")

    order_id: uuid.UUID
    user_id: uuid.UUID
    lines: tuple[OrderLineV1, ...] = Field(min_length=1)
    total: Money
    currency: str


class OrderCancelledV1(EventContract):
    """A confirmed order was cancelled; `stock_released` is false when products still holds its stock."""

    event_type: ClassVar[str] = "shop.order.cancelled.v1"
    topic: ClassVar[str] = ORDERS_TOPIC
    key_field: ClassVar[str] = "order_id"
    # products releases the order's stock.
    consumed_by: ClassVar[tuple[str, ...]] = ("products",)

    order_id: uuid.UUID
    user_id: uuid.UUID
    reason: Literal["customer_request", "staff"]
    stock_released: bool


CONTRACTS: tuple[type[EventContract], ...] = (UserRegisteredV1, OrderConfirmedV1, OrderCancelledV1)

# Types once published and no longer emitted; never reused, since old events of the type may still be
# read from a topic or a dead-letter topic. `shop.order.created.v1` was written beside
# `shop.order.confirmed.v1` with the same data, and nothing consumed it.
RETIRED_EVENT_TYPES: frozenset[str] = frozenset({"shop.order.created.v1"})


def _registry() -> dict[str, type[EventContract]]:
    registry: dict[str, type[EventContract]] = {}
    for contract in CONTRACTS:
        if contract.event_type in registry or contract.event_type in RETIRED_EVENT_TYPES:
            raise ValueError(f"event type {contract.event_type} is declared twice or retired")
        registry[contract.event_type] = contract
    return registry


# event type -> its contract.
REGISTRY: dict[str, type[EventContract]] = _registry()


def contract_for(event_type: str) -> type[EventContract]:
    """The contract of `event_type`; `InvalidEvent` for a type no contract declares."""
    try:
        return REGISTRY[event_type]
    except KeyError:
        raise InvalidEvent(f"no event contract declares {event_type!r}") from None


__all__ = [
    "CONTRACTS",
    "ORDERS_TOPIC",
    "REGISTRY",
    "RETIRED_EVENT_TYPES",
    "TOPIC_OWNERS",
    "USERS_TOPIC",
    "EventContract",
    "OrderCancelledV1",
    "OrderConfirmedV1",
    "OrderLineV1",
    "UserRegisteredV1",
    "contract_for",
]
