"""Events: the transactional outbox (`emit_event`), its Kafka relay and the consumer framework."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shopkit.events.models import OutboxEvent


def emit_event(
    *, topic: str, event_type: str, key: str, data: dict[str, Any], subject: str | None = None
) -> OutboxEvent:
    """Write a CloudEvents envelope to the outbox; call inside the `transaction.atomic()` of the change."""
    # Imported here: this package is an installed app, so its models cannot load at import time.
    from shopkit.events.services import outbox_event_emit

    return outbox_event_emit(topic=topic, event_type=event_type, key=key, data=data, subject=subject)


__all__ = ["emit_event"]
