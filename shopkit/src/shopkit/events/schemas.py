"""JSON Schemas and the AsyncAPI 3 document of the event contracts, and the compatibility rules between versions.

`documents()` renders everything `docs/events/` holds; `incompatibilities(old, new)` lists why a
schema change would break a consumer or a replay (tools/check_event_schemas.py runs both in
`make lint`). Both directions matter for events: a consumer deployed before the change reads new
events, and a consumer deployed after it reads old ones (topics, dead letters and replays keep them).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import yaml

from shopkit.events.contracts import CONTRACTS, TOPIC_OWNERS, EventContract
from shopkit.events.envelope import CONTENT_TYPE, SPEC_VERSION

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ENVELOPE_FILE = "envelope.json"
ASYNCAPI_FILE = "asyncapi.yaml"
KAFKA_BINDING_VERSION = "0.5.0"


def schema_file(contract: type[EventContract]) -> str:
    return f"{contract.event_type}.json"


def data_schema(contract: type[EventContract]) -> dict[str, Any]:
    """The JSON Schema of the event's `data`, as producers write it."""
    schema = contract.model_json_schema(mode="serialization")
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": schema_file(contract),
        "x-event-type": contract.event_type,
        "x-topic": contract.topic,
        "x-key": contract.key_field,
        **schema,
    }


def envelope_schema() -> dict[str, Any]:
    """The CloudEvents 1.0 structured JSON envelope every event travels in (shopkit.events.envelope)."""
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": ENVELOPE_FILE,
        "title": "CloudEvents 1.0 envelope",
        "type": "object",
        "properties": {
            "specversion": {"const": SPEC_VERSION},
            "id": {"type": "string", "format": "uuid"},
            "type": {"type": "string", "minLength": 1},
            "source": {"type": "string", "pattern": "^/shop/[a-z]+$"},
            "time": {"type": "string", "format": "date-time"},
            "subject": {"type": ["string", "null"]},
            "datacontenttype": {"const": CONTENT_TYPE},
            "data": {"type": "object"},
        },
        "required": ["specversion", "id", "type", "source", "time", "subject", "datacontenttype", "data"],
        "additionalProperties": False,
    }


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if text and text.strip() else ""


def _message_id(contract: type[EventContract]) -> str:
    return contract.event_type.replace(".", "-")


def _channel_id(topic: str) -> str:
    # AsyncAPI ids are letters, digits, `-` and `_`; the topic itself is the channel's address.
    return topic.replace(".", "-")


def asyncapi_document(topic_owners: Mapping[str, str] = TOPIC_OWNERS) -> dict[str, Any]:
    """Topics (channels), their keys and events (messages), who sends and who receives each."""
    topics = sorted({c.topic for c in CONTRACTS})
    channels: dict[str, Any] = {}
    for topic in topics:
        owner = topic_owners.get(topic, "")
        channels[_channel_id(topic)] = {
            "address": topic,
            "description": f"Written only by {owner} (its outbox relay); dead letters go to {topic}.dlq.",
            "messages": {
                _message_id(c): {"$ref": f"#/components/messages/{_message_id(c)}"}
                for c in CONTRACTS
                if c.topic == topic
            },
        }
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for contract in CONTRACTS:
        message_id = _message_id(contract)
        channel = _channel_id(contract.topic)
        owner = topic_owners.get(contract.topic, "").removeprefix("/shop/")
        operations[f"{owner}-sends-{message_id}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel}"},
            "messages": [{"$ref": f"#/channels/{channel}/messages/{message_id}"}],
            "summary": f"{owner} writes it to its outbox in the transaction of the change; its relay publishes it.",
        }
        for group in contract.consumed_by:
            operations[f"{group}-receives-{message_id}"] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{channel}"},
                "messages": [{"$ref": f"#/channels/{channel}/messages/{message_id}"}],
                "summary": f"consumer group {group}: at least once, deduplicated by event id.",
            }
        messages[message_id] = {
            "name": contract.event_type,
            "title": contract.__name__,
            "summary": _first_line(contract.__doc__),
            "contentType": "application/json",
            "headers": {
                "type": "object",
                "properties": {
                    "ce_type": {"const": contract.event_type},
                    "ce_id": {"type": "string", "format": "uuid"},
                    "traceparent": {"type": "string", "description": "W3C trace context of the emitting request"},
                    "tracestate": {"type": "string"},
                },
                "required": ["ce_type", "ce_id"],
            },
            "payload": {
                "allOf": [
                    {"$ref": f"./{ENVELOPE_FILE}"},
                    {
                        "type": "object",
                        "properties": {
                            "type": {"const": contract.event_type},
                            "source": {"const": topic_owners.get(contract.topic, "")},
                            "subject": {"type": "string", "description": f"the {contract.key_field}"},
                            "data": {"$ref": f"./{schema_file(contract)}"},
                        },
                    },
                ]
            },
            "bindings": {
                "kafka": {
                    "key": {"type": "string", "format": "uuid", "description": f"the {contract.key_field}"},
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Shop events",
            "version": "1.0.0",
            "description": (
                "Generated from shopkit.events.contracts by `make event-schemas`; do not edit. "
                "Every value is a CloudEvents 1.0 structured JSON envelope keyed by its aggregate id "
                "(docs/guides/events.md)."
            ),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def _json(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def documents(topic_owners: Mapping[str, str] = TOPIC_OWNERS) -> dict[str, str]:
    """file name -> text of every file `docs/events/` holds."""
    files = {ENVELOPE_FILE: _json(envelope_schema())}
    for contract in CONTRACTS:
        files[schema_file(contract)] = _json(data_schema(contract))
    files[ASYNCAPI_FILE] = yaml.safe_dump(asyncapi_document(topic_owners), sort_keys=False, width=120)
    return files


# -- compatibility ----------------------------------------------------------------------------------


def _resolve(node: Any, root: Mapping[str, Any]) -> Any:
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
        target: Any = root
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        node = target
    return node


def _types(node: Mapping[str, Any]) -> frozenset[str]:
    declared = node.get("type")
    if declared is None:
        return frozenset()
    return frozenset([declared] if isinstance(declared, str) else declared)


def _values(node: Mapping[str, Any]) -> list[Any] | None:
    if "const" in node:
        return [node["const"]]
    enum = node.get("enum")
    return list(enum) if enum is not None else None


def _canonical(node: Any) -> str:
    return json.dumps(node, sort_keys=True)


def incompatibilities(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Why `new` cannot replace the published `old` in place; empty when it can.

    Incompatible: a property removed (or renamed), a type or format changed, a property newly
    required, enum values removed (old events no longer valid) or added (old consumers refuse the
    new value), a composition (anyOf/oneOf) changed, unknown properties newly forbidden, or an
    array's items changed in any of these ways. Compatible: a new optional property, and changes
    to titles and descriptions.
    """
    problems: list[str] = []
    _compare(old, new, old_root=old, new_root=new, path="data", problems=problems)
    return problems


def _compare(
    old: Any, new: Any, *, old_root: Mapping[str, Any], new_root: Mapping[str, Any], path: str, problems: list[str]
) -> None:
    old, new = _resolve(old, old_root), _resolve(new, new_root)
    if not isinstance(old, Mapping) or not isinstance(new, Mapping):
        if _canonical(old) != _canonical(new):
            problems.append(f"{path}: schema changed from {_canonical(old)} to {_canonical(new)}")
        return
    for keyword in ("anyOf", "oneOf", "allOf"):
        if keyword in old or keyword in new:
            old_branches = [_canonical(_resolve(b, old_root)) for b in old.get(keyword, [])]
            new_branches = [_canonical(_resolve(b, new_root)) for b in new.get(keyword, [])]
            if sorted(old_branches) != sorted(new_branches):
                problems.append(f"{path}: {keyword} changed")
    if (old_types := _types(old)) != (new_types := _types(new)):
        problems.append(f"{path}: type changed from {sorted(old_types)} to {sorted(new_types)}")
        return
    if old.get("format") != new.get("format"):
        problems.append(f"{path}: format changed from {old.get('format')!r} to {new.get('format')!r}")
    old_values, new_values = _values(old), _values(new)
    if old_values is not None or new_values is not None:
        if new_values is not None and (removed := [v for v in (old_values or []) if v not in new_values]):
            problems.append(f"{path}: enum narrowed, {removed} removed")
        if old_values is not None and (added := [v for v in (new_values or []) if v not in old_values]):
            problems.append(f"{path}: enum widened, {added} added (consumers of the old version refuse them)")
        if old_values is None:
            problems.append(f"{path}: values newly restricted to {new_values}")
    old_properties: Mapping[str, Any] = old.get("properties", {})
    new_properties: Mapping[str, Any] = new.get("properties", {})
    for name, old_property in old_properties.items():
        if name not in new_properties:
            problems.append(f"{path}.{name}: property removed or renamed")
            continue
        _compare(
            old_property,
            new_properties[name],
            old_root=old_root,
            new_root=new_root,
            path=f"{path}.{name}",
            problems=problems,
        )
    if newly_required := sorted(set(new.get("required", [])) - set(old.get("required", []))):
        problems.append(f"{path}: newly required {newly_required}")
    if old.get("additionalProperties", True) is not False and new.get("additionalProperties", True) is False:
        problems.append(f"{path}: additional properties newly forbidden")
    if "items" in old or "items" in new:
        _compare(
            old.get("items", {}),
            new.get("items", {}),
            old_root=old_root,
            new_root=new_root,
            path=f"{path}[]",
            problems=problems,
        )


__all__ = [
    "ASYNCAPI_FILE",
    "ENVELOPE_FILE",
    "asyncapi_document",
    "data_schema",
    "documents",
    "envelope_schema",
    "incompatibilities",
    "schema_file",
]
