"""Event contracts: the classes, their generated schemas, the compatibility rules and the outbox row check."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pydantic
import pytest

from shopkit.events.conf import EventSettings
from shopkit.events.consumer import Event
from shopkit.events.contracts import (
    CONTRACTS,
    REGISTRY,
    OrderCancelledV1,
    OrderConfirmedV1,
    OrderLineV1,
    UserRegisteredV1,
    contract_for,
)
from shopkit.events.envelope import build_envelope
from shopkit.events.errors import InvalidEvent
from shopkit.events.schemas import data_schema, incompatibilities
from shopkit.testing.outbox_contracts import outbox_row_problems

ORDER_ID, USER_ID, PRODUCT_ID = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def _confirmed() -> OrderConfirmedV1:
    return OrderConfirmedV1(
        order_id=ORDER_ID,
        user_id=USER_ID,
        lines=(OrderLineV1(product_id=PRODUCT_ID, quantity=2, unit_price=Decimal("9.90")),),
        total=Decimal("19.80"),
        currency="USD",
    )


def _event(contract: OrderConfirmedV1 | OrderCancelledV1, *, event_type: str | None = None) -> Event:
    return Event(
        id=uuid.uuid4(),
        type=event_type or contract.event_type,
        source="/shop/orders",
        subject=contract.key,
        time=dt.datetime.now(dt.UTC),
        data=contract.wire_data(),
        topic=contract.topic,
        key=contract.key,
    )


def test_an_event_round_trips_through_its_wire_data_into_the_same_class() -> None:
    # given
    confirmed = _confirmed()

    # when
    parsed = OrderConfirmedV1.from_event(_event(confirmed))

    # then
    assert parsed == confirmed
    assert confirmed.wire_data() == {
        "order_id": str(ORDER_ID),
        "user_id": str(USER_ID),
        "lines": [{"product_id": str(PRODUCT_ID), "quantity": 2, "unit_price": "9.90"}],
        "total": "19.80",
        "currency": "USD",
    }
    assert (confirmed.topic, confirmed.key) == ("shop.orders", str(ORDER_ID))


def test_events_are_frozen() -> None:
    # given
    confirmed = _confirmed()

    # when / then
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        confirmed.currency = "EUR"  # type: ignore[misc]


def test_registered_at_is_written_as_isoformat_with_its_offset() -> None:
    # given
    joined = dt.datetime(2026, 12, 1, 20, 0, 0, 123456, tzinfo=dt.UTC)

    # when
    data = UserRegisteredV1(user_id=USER_ID, email="a@example.com", registered_at=joined).wire_data()

    # then: as before the contracts (isoformat), not pydantic's "Z"
    assert data == {"user_id": str(USER_ID), "email": "a@example.com", "registered_at": joined.isoformat()}


def test_parsing_an_event_of_another_type_or_with_bad_data_raises() -> None:
    # given
    cancelled = OrderCancelledV1(order_id=ORDER_ID, user_id=USER_ID, reason="staff", stock_released=False)
    bad = dataclasses.replace(_event(cancelled), data={**cancelled.wire_data(), "reason": "bored"})

    # when / then
    with pytest.raises(InvalidEvent, match="OrderConfirmedV1 parses shop.order.confirmed.v1, not shop.order.cancelled"):
        OrderConfirmedV1.from_event(_event(cancelled))
    with pytest.raises(pydantic.ValidationError, match="reason"):
        OrderCancelledV1.from_event(bad)


def test_unknown_fields_are_ignored_so_an_optional_addition_reaches_older_consumers() -> None:
    # given: a newer producer added a field
    event = _event(_confirmed())
    newer = dataclasses.replace(event, data={**event.data, "coupon": "XMAS"})

    # when
    parsed = OrderConfirmedV1.from_event(newer)

    # then
    assert parsed == _confirmed()


def test_the_registry_maps_every_type_to_its_class_and_refuses_unknown_types() -> None:
    # then
    assert REGISTRY == {
        "shop.user.registered.v1": UserRegisteredV1,
        "shop.order.confirmed.v1": OrderConfirmedV1,
        "shop.order.cancelled.v1": OrderCancelledV1,
    }
    assert [contract_for(c.event_type) for c in CONTRACTS] == list(CONTRACTS)
    with pytest.raises(InvalidEvent, match="no event contract declares 'shop.order.created.v1'"):
        contract_for("shop.order.created.v1")


def test_event_settings_take_every_default_from_the_settings_module() -> None:
    # then: no field of its own falls back to a second copy of a default (shopkit.base_settings has them)
    assert [f.name for f in dataclasses.fields(EventSettings) if f.default is not dataclasses.MISSING] == []
    assert [f.name for f in dataclasses.fields(EventSettings) if f.default_factory is not dataclasses.MISSING] == []


# -- compatibility ----------------------------------------------------------------------------------


def _schema() -> dict[str, Any]:
    return data_schema(OrderConfirmedV1)


def test_a_schema_is_compatible_with_itself_and_with_a_new_optional_property_or_title() -> None:
    # given
    old = _schema()
    new = copy.deepcopy(old)
    new["properties"]["coupon"] = {"type": "string"}
    new["properties"]["total"]["title"] = "Amount due"

    # then
    assert incompatibilities(old, old) == []
    assert incompatibilities(old, new) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda s: s["properties"].pop("currency"), "data.currency: property removed or renamed"),
        (
            lambda s: s["properties"].__setitem__("currency_code", s["properties"].pop("currency")),
            "data.currency: property removed or renamed",
        ),
        (
            lambda s: s["properties"]["total"].update(type="number"),
            "data.total: type changed from ['string'] to ['number']",
        ),
        (
            lambda s: s["$defs"]["OrderLineV1"]["properties"]["quantity"].update(type="string"),
            "data.lines[].quantity: type changed from ['integer'] to ['string']",
        ),
        (
            lambda s: (s["properties"].__setitem__("coupon", {"type": "string"}), s["required"].append("coupon")),
            "data: newly required ['coupon']",
        ),
        (
            lambda s: s["properties"]["order_id"].update(format="email"),
            "data.order_id: format changed from 'uuid' to 'email'",
        ),
        (lambda s: s.update(additionalProperties=False), "data: additional properties newly forbidden"),
    ],
)
def test_incompatible_changes_are_named(change: Any, problem: str) -> None:
    # given
    old = _schema()
    new = copy.deepcopy(old)
    change(new)

    # when / then
    assert incompatibilities(old, new) == [problem]


def test_an_enum_narrowed_or_widened_is_incompatible() -> None:
    # given
    old = data_schema(OrderCancelledV1)
    narrowed, widened = copy.deepcopy(old), copy.deepcopy(old)
    narrowed["properties"]["reason"]["enum"] = ["customer_request"]
    widened["properties"]["reason"]["enum"] = ["customer_request", "staff", "fraud"]

    # when / then
    assert incompatibilities(old, narrowed) == ["data.reason: enum narrowed, ['staff'] removed"]
    assert incompatibilities(old, widened) == [
        "data.reason: enum widened, ['fraud'] added (consumers of the old version refuse them)"
    ]


# -- outbox rows ------------------------------------------------------------------------------------


def _row(contract: OrderConfirmedV1 | OrderCancelledV1, **payload_changes: Any) -> dict[str, Any]:
    payload = build_envelope(
        event_id=uuid.uuid4(),
        event_type=contract.event_type,
        source="/shop/orders",
        time=dt.datetime.now(dt.UTC),
        subject=contract.key,
        data=contract.wire_data(),
    )
    return {
        "topic": contract.topic,
        "key": contract.key,
        "event_type": contract.event_type,
        "payload": {**payload, **payload_changes},
    }


def test_an_outbox_row_of_a_contract_matches_the_committed_schema() -> None:
    # when / then
    assert outbox_row_problems(**_row(_confirmed())) == []


def test_an_outbox_row_that_breaks_the_committed_schema_is_described() -> None:
    # given
    data = {**_confirmed().wire_data(), "total": 19.8, "lines": []}
    row = {**_row(_confirmed(), data=data, specversion="0.3"), "topic": "shop.users"}

    # when
    problems = outbox_row_problems(**row)

    # then
    assert problems == [
        'envelope/specversion: "1.0" was expected',
        "topic 'shop.users' is not 'shop.orders'",
        "data/lines: [] has less than 1 item",
        'data/total: 19.8 is not of type "string"',
    ]


def test_an_outbox_row_of_a_type_without_a_schema_is_described() -> None:
    # given
    row = {**_row(_confirmed()), "event_type": "shop.order.created.v1"}

    # when / then
    assert outbox_row_problems(**row) == [
        "shop.order.created.v1: no schema in docs/events/ (declare it in shopkit.events.contracts)"
    ]
