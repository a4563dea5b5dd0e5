"""Events: the transactional outbox (`emit_event`), its Kafka relay and the consumer framework."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shopkit.events.contracts import EventContract
    from shopkit.events.models import OutboxEvent


def emit_event(event: EventContract) -> OutboxEvent:
    """Write `event` (a contract of shopkit.events.contracts) to the outbox, on its class's topic, keyed and
    subjected by its aggregate id; call inside the `transaction.atomic()` of the change it describes."""
    # Imported here: this package is an installed app, so its models cannot load at import time.
    from shopkit.events.services import outbox_event_emit

    return outbox_event_emit(
        topic=event.topic, event_type=event.event_type, key=event.key, subject=event.key, data=event.wire_data()
    )


__all__ = ["emit_event"]
