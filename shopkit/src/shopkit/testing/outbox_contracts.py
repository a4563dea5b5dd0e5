"""Every outbox row a service's test writes is checked against the committed schemas in docs/events/.

A service's conftest imports the hook (`from shopkit.testing.outbox_contracts import pytest_runtest_call`):
after each test that passed and used the database, still inside its transaction, every row in the outbox
must be a CloudEvents envelope of a type docs/events/ holds, on that type's topic and key, whose `data`
validates against the type's schema. So an event a service writes and the schema consumers read from
cannot drift apart without a test failing.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Generator, Mapping
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from shopkit.events.schemas import ENVELOPE_FILE

# shopkit/src/shopkit/testing/ -> the repository root (shopkit is installed editable from the checkout).
EVENTS_DIR = Path(__file__).resolve().parents[4] / "docs" / "events"


@functools.cache
def _committed_schemas(events_dir: Path = EVENTS_DIR) -> tuple[Any, dict[str, tuple[Mapping[str, Any], Any]]]:
    """The envelope's validator and, per event type, its schema and validator, read from the committed files."""
    if not (events_dir / ENVELOPE_FILE).is_file():
        raise FileNotFoundError(f"no committed event schemas in {events_dir} (make event-schemas writes them)")
    envelope = jsonschema_rs.validator_for(json.loads((events_dir / ENVELOPE_FILE).read_text()), validate_formats=True)
    by_type: dict[str, tuple[Mapping[str, Any], Any]] = {}
    for path in sorted(events_dir.glob("shop.*.json")):
        schema = json.loads(path.read_text())
        by_type[schema["x-event-type"]] = (schema, jsonschema_rs.validator_for(schema, validate_formats=True))
    return envelope, by_type


def _errors(validator: Any, instance: Any, where: str) -> list[str]:
    return [
        f"{where}{''.join(f'/{p}' for p in error.instance_path)}: {error.message}"
        for error in validator.iter_errors(instance)
    ]


def outbox_row_problems(*, topic: str, key: str, event_type: str, payload: Any) -> list[str]:
    """Why an outbox row does not match the committed contract of its type; empty when it does."""
    envelope, by_type = _committed_schemas()
    problems = _errors(envelope, payload, "envelope")
    if event_type not in by_type:
        return [*problems, f"{event_type}: no schema in docs/events/ (declare it in shopkit.events.contracts)"]
    schema, validator = by_type[event_type]
    body: Mapping[str, Any] = payload if isinstance(payload, Mapping) else {}
    data = body.get("data")
    if body.get("type") != event_type:
        problems.append(f"envelope type {body.get('type')!r} is not the row's {event_type!r}")
    if topic != schema["x-topic"]:
        problems.append(f"topic {topic!r} is not {schema['x-topic']!r}")
    aggregate_id = data.get(schema["x-key"]) if isinstance(data, Mapping) else None
    if key != aggregate_id or body.get("subject") != aggregate_id:
        problems.append(f"key {key!r} and subject {body.get('subject')!r} are not data.{schema['x-key']}")
    return [*problems, *_errors(validator, data, "data")]


def _uses_database(item: pytest.Item) -> bool:
    return "_django_db_helper" in getattr(item, "fixturenames", ()) or item.get_closest_marker("django_db") is not None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    # A failed test raises out of the yield: its own failure is what matters, nothing is checked.
    result = yield
    if _uses_database(item):
        from shopkit.events.models import OutboxEvent

        rows = OutboxEvent.objects.order_by("created_at").values_list("id", "topic", "key", "event_type", "payload")
        failures = [
            f"outbox row {row_id} ({event_type}): {problem}"
            for row_id, topic, key, event_type, payload in rows
            for problem in outbox_row_problems(topic=topic, key=key, event_type=event_type, payload=payload)
        ]
        if failures:
            pytest.fail("events that break their committed schema (docs/events/):\n" + "\n".join(failures))
    return result


__all__ = ["EVENTS_DIR", "outbox_row_problems", "pytest_runtest_call"]
