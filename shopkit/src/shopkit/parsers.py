"""Strict JSON request bodies for every service: one object, bounded, and only text PostgreSQL can store."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from shopkit.errors import ApplicationError

# Nothing the shop accepts nests deeper than two levels; the margin keeps future shapes working
# while a body of 30,000 brackets is refused before anything recurses through it.
MAX_DEPTH = 16
# A 64-bit integer has at most 19 digits. Longer literals cost quadratic time to convert (the reason
# for Python's own 4,300-digit limit) and overflow every integer column anyway.
MAX_INTEGER_DIGITS = 20
# Error locations name the keys that led there; a key longer than this is cut in the message.
_MAX_SHOWN_PATH = 120
# After json.loads, a surrogate pair written as two escapes is one character: any surrogate left
# is a lone one, which cannot be encoded as UTF-8 (so neither stored nor rendered).
_SURROGATE = re.compile("[\ud800-\udfff]")
MALFORMED_JSON = "malformed-json"


class MalformedBody(ApplicationError):
    """A request body that is not one JSON object the shop can store: always a 400 problem."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, *, where: str | None = None) -> None:
        extra = {"errors": {where[:_MAX_SHOWN_PATH]: [detail]}} if where else None
        super().__init__(detail, code=MALFORMED_JSON, extra=extra)


def _parse_int(literal: str) -> int:
    if len(literal.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise MalformedBody(f"A number has more than {MAX_INTEGER_DIGITS} digits.")
    return int(literal)


def _parse_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        # 1e999 parses as infinity: no price, quantity or name is infinite.
        raise MalformedBody("A number is too large.")
    return value


def _parse_constant(literal: str) -> Any:
    raise MalformedBody(f"{literal} is not a JSON number.")


def _check_text(text: str, where: str) -> None:
    if "\x00" in text:
        # PostgreSQL text cannot hold NUL (psycopg refuses it), and no input needs one.
        raise MalformedBody("Text must not contain NUL characters.", where=where)
    if _SURROGATE.search(text):
        raise MalformedBody("Text must not contain lone surrogates (invalid Unicode).", where=where)


def _check_document(document: Any) -> None:
    """Depth, keys and strings of the parsed body, iteratively (the body itself may be deep)."""
    stack: list[tuple[Any, int, str]] = [(document, 0, "")]
    while stack:
        node, depth, where = stack.pop()
        if isinstance(node, str):
            _check_text(node, where or "body")
            continue
        if not isinstance(node, dict | list):
            continue
        if depth >= MAX_DEPTH:
            raise MalformedBody(f"The body nests deeper than {MAX_DEPTH} levels.", where=where or "body")
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            if isinstance(key, str):
                _check_text(key, where or "body")
            stack.append((value, depth + 1, f"{where}.{key}" if where else str(key)))


def load_json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object, or MalformedBody: UTF-8 only, bounded depth and numbers, no NUL
    or lone surrogates anywhere (keys included), and an object at the top (every endpoint takes one)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedBody("The body is not valid UTF-8.") from exc
    try:
        document = json.loads(text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant)
    except RecursionError as exc:
        raise MalformedBody(f"The body nests deeper than {MAX_DEPTH} levels.") from exc
    except ValueError as exc:
        raise MalformedBody("The body is not valid JSON.") from exc
    if not isinstance(document, dict):
        raise MalformedBody("The body must be a JSON object.")
    _check_document(document)
    return document
