"""emit_event: the outbox row of a typed event, its CloudEvents envelope and trace context; the outbox's
transaction rules and bounds (outbox_event_emit, which emit_event writes through)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.db import transaction
from opentelemetry import trace

from shopkit.events import emit_event
from shopkit.events.contracts import OrderConfirmedV1, OrderLineV1, UserRegisteredV1
from shopkit.events.errors import EmitOutsideTransaction, InvalidEvent
from shopkit.events.models import OutboxEvent
from shopkit.events.services import outbox_event_emit

pytestmark = pytest.mark.django_db


def test_emit_event_stores_cloudevents_envelope_with_current_trace_context() -> None:
    # given
    order_id, user_id, product_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    confirmed = OrderConfirmedV1(
        order_id=order_id,
        user_id=user_id,
        lines=(OrderLineV1(product_id=product_id, quantity=2, unit_price=Decimal("9.90")),),
        total=Decimal("19.80"),
        currency="USD",
    )
    tracer = trace.get_tracer("test")

    # when
    with tracer.start_as_current_span("checkout") as span, transaction.atomic():
        event = emit_event(confirmed)

    # then
    stored = OutboxEvent.objects.get()
    assert stored.id == event.id
    assert (stored.topic, stored.key, stored.event_type) == ("shop.orders", str(order_id), "shop.order.confirmed.v1")
    assert stored.payload == {
        "specversion": "1.0",
        "id": str(stored.id),
        "type": "shop.order.confirmed.v1",
        "source": "/shop/shopkit-tests",
        "time": stored.created_at.isoformat(),
        "subject": str(order_id),
        "datacontenttype": "application/json",
        "data": {
            "order_id": str(order_id),
            "user_id": str(user_id),
            "lines": [{"product_id": str(product_id), "quantity": 2, "unit_price": "9.90"}],
            "total": "19.80",
            "currency": "USD",
        },
    }
    ctx = span.get_span_context()
    assert stored.headers == {"traceparent": f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{ctx.trace_flags:02x}"}
    assert (stored.sent_at, stored.claimed_until, stored.attempts, stored.last_error) == (None, None, 0, "")
    assert stored.created_at.tzinfo == dt.UTC


@pytest.mark.django_db(transaction=True)
def test_outbox_event_emit_outside_a_transaction_raises_and_stores_nothing() -> None:
    # when
    with pytest.raises(EmitOutsideTransaction, match=r"transaction\.atomic"):
        outbox_event_emit(topic="shop.orders", event_type="shop.test.sequenced.v1", key="k", data={})

    # then
    assert OutboxEvent.objects.count() == 0


def test_outbox_event_emit_in_a_rolled_back_transaction_leaves_no_row() -> None:
    # given
    def failing_checkout() -> None:
        with transaction.atomic():
            outbox_event_emit(topic="shop.orders", event_type="shop.test.sequenced.v1", key="k", data={"x": 1})
            raise RuntimeError("checkout failed")

    # when
    with pytest.raises(RuntimeError, match="checkout failed"):
        failing_checkout()

    # then
    assert OutboxEvent.objects.count() == 0


def test_outbox_event_emit_outside_a_trace_stores_no_trace_headers() -> None:
    # when
    with transaction.atomic():
        outbox_event_emit(topic="shop.users", event_type="shop.user.registered.v1", key="u", data={})

    # then
    assert OutboxEvent.objects.get().headers == {}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"topic": ""}, "topic must be a non-empty string"),
        ({"topic": "t" * 250}, "topic is longer than 249 characters"),
        ({"event_type": " "}, "event_type must be a non-empty string"),
        ({"key": "k" * 201}, "key is longer than 200 characters"),
        ({"data": ["not", "an", "object"]}, "data must be a dict"),
        ({"subject": 42}, "subject must be a string or None"),
    ],
)
def test_outbox_event_emit_rejects_out_of_bounds_input_and_stores_nothing(
    overrides: dict[str, object], message: str
) -> None:
    # given
    arguments: dict[str, object] = {
        "topic": "shop.orders",
        "event_type": "shop.test.sequenced.v1",
        "key": "k",
        "data": {},
        **overrides,
    }

    # when
    with pytest.raises(InvalidEvent, match=message), transaction.atomic():
        outbox_event_emit(**arguments)  # type: ignore[arg-type]

    # then
    assert OutboxEvent.objects.count() == 0


def test_emit_event_costs_a_single_insert(django_assert_num_queries: object) -> None:
    # given: the test's own transaction stands in for the caller's
    registered = UserRegisteredV1(user_id=uuid.uuid4(), email="a@example.com", registered_at=dt.datetime.now(dt.UTC))

    # when / then
    with django_assert_num_queries(1):  # type: ignore[operator]
        emit_event(registered)
