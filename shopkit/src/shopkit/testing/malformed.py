"""Request bodies every service must answer with a 400 `malformed-json` problem (shopkit.parsers), for every suite."""

from __future__ import annotations

from typing import Any

import pytest

MALFORMED_JSON_TYPE = "https://shop.example/problems/malformed-json"

# Each one was a 500, or stored nonsense, somewhere in the shop before shopkit.parsers.
MALFORMED_BODIES: dict[str, bytes] = {
    # RecursionError in json.loads (under the 64 KiB body cap).
    "30000-nested-arrays": b"[" * 30_000 + b"]" * 30_000,
    "10000-nested-objects": b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
    # UnicodeEncodeError when PostgreSQL or the JSON renderer encodes them.
    "lone-surrogate": b'{"first_name": "\\ud800", "name": "\\ud800", "quantity": "\\udfff"}',
    "lone-surrogate-in-a-key": b'{"\\udfff": "x"}',
    "invalid-utf8-bytes": b'{"first_name": "\xff\xfe"}',
    # psycopg refuses NUL in text: ValueError.
    "nul-in-a-string": b'{"first_name": "a\\u0000b", "name": "a\\u0000b", "email": "a\\u0000@example.com"}',
    "nul-in-a-key": b'{"first_name\\u0000": "x"}',
    # 1e999 is float infinity ("inf" stored as a name); a 5000-digit literal is Python's int limit.
    "1e999": b'{"first_name": 1e999, "quantity": 1e999, "price": 1e999}',
    "5000-digit-integer": b'{"quantity": ' + b"9" * 5000 + b"}",
    # Every endpoint takes one object.
    "json-array": b'[{"first_name": "x"}]',
    "json-null": b"null",
}


def malformed_body_params() -> list[Any]:
    """MALFORMED_BODIES as pytest parameters named after each case."""
    return [pytest.param(body, id=name) for name, body in MALFORMED_BODIES.items()]


def assert_malformed_body_problem(status: int, content_type: str, body: dict[str, Any]) -> None:
    assert (status, content_type) == (400, "application/problem+json"), body
    assert body["type"] == MALFORMED_JSON_TYPE
    assert body["status"] == 400
