"""CloudEvents 1.0 structured JSON envelopes: built by `emit_event`, parsed by consumers."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from shopkit.events.errors import EnvelopeError

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class Event:
    """A consumed event as handlers see it."""

    id: uuid.UUID
    type: str
    source: str
    subject: str | None
    time: dt.datetime
    data: dict[str, Any]
    topic: str
    key: str | None


def build_envelope(
    *,
    event_id: uuid.UUID,
    event_type: str,
    source: str,
    time: dt.datetime,
    subject: str | None,
    data: dict[str, Any],
) -> dict[str, Any]:
    """The envelope as plain JSON values (Decimals and UUIDs become strings, as on the wire)."""
    envelope = {
        "specversion": SPEC_VERSION,
        "id": str(event_id),
        "type": event_type,
        "source": source,
        "time": time.isoformat(),
        "subject": subject,
        "datacontenttype": CONTENT_TYPE,
        "data": data,
    }
    parsed: dict[str, Any] = json.loads(json.dumps(envelope, cls=DjangoJSONEncoder))
    return parsed


def encode_envelope(envelope: dict[str, Any]) -> bytes:
    return json.dumps(envelope, separators=(",", ":"), cls=DjangoJSONEncoder).encode()


def parse_envelope(value: bytes | None, *, topic: str, key: bytes | None) -> Event:
    """Validate a message value as a CloudEvents envelope; anything else is an `EnvelopeError`."""
    if not value:
        raise EnvelopeError("the message has no value")
    try:
        body = json.loads(value)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EnvelopeError(f"the value is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise EnvelopeError("the value is not a JSON object")
    if body.get("specversion") != SPEC_VERSION:
        raise EnvelopeError(f"specversion must be {SPEC_VERSION!r}")
    for field in ("id", "type", "source", "time"):
        if not isinstance(body.get(field), str) or not body[field]:
            raise EnvelopeError(f"{field!r} must be a non-empty string")
    subject = body.get("subject")
    if subject is not None and not isinstance(subject, str):
        raise EnvelopeError("'subject' must be a string")
    data = body.get("data")
    if not isinstance(data, dict):
        raise EnvelopeError("'data' must be a JSON object")
    try:
        event_id = uuid.UUID(body["id"])
    except ValueError as exc:
        raise EnvelopeError("'id' must be a UUID") from exc
    try:
        time = dt.datetime.fromisoformat(body["time"])
    except ValueError as exc:
        raise EnvelopeError("'time' must be an RFC 3339 timestamp") from exc
    if time.tzinfo is None:
        raise EnvelopeError("'time' must carry a UTC offset")
    return Event(
        id=event_id,
        type=body["type"],
        source=body["source"],
        subject=subject,
        time=time,
        data=data,
        topic=topic,
        key=key.decode(errors="replace") if key is not None else None,
    )
