"""Request bodies every service refuses with a 400 problem before any code sees them (shopkit.parsers).

Against a DRF view that stores the body's `text` in PostgreSQL without a serializer: what reaches the
database, the renderer or the view unchecked was a 500 before (RecursionError, UnicodeEncodeError,
psycopg's ValueError on NUL, AttributeError on a list) or stored `inf` as text.
"""

from __future__ import annotations

from typing import Any

import pytest
from shopkit_tests.models import HandlerEffect

from shopkit.parsers import MAX_DEPTH

pytestmark = [pytest.mark.urls("shopkit_tests.core_urls"), pytest.mark.django_db]

MALFORMED_JSON = "https://shop.example/problems/malformed-json"
TOO_DEEP = f"The body nests deeper than {MAX_DEPTH} levels."
NUL = "Text must not contain NUL characters."
SURROGATE = "Text must not contain lone surrogates (invalid Unicode)."
NOT_OBJECT = "The body must be a JSON object."


def _nested_lists(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


MALFORMED_BODIES = [
    pytest.param(_nested_lists(30_000), TOO_DEEP, None, id="30000-nested-arrays"),
    pytest.param(b'{"a":' * 10_000 + b"1" + b"}" * 10_000, TOO_DEEP, None, id="10000-nested-objects"),
    pytest.param(
        b'{"text": ' + _nested_lists(MAX_DEPTH) + b"}",
        TOO_DEEP,
        {"text" + ".0" * (MAX_DEPTH - 1): [TOO_DEEP]},
        id="one-level-past-the-limit",
    ),
    pytest.param(b'{"text": "\\ud800"}', SURROGATE, {"text": [SURROGATE]}, id="lone-high-surrogate"),
    pytest.param(b'{"text": "a\\udfffb"}', SURROGATE, {"text": [SURROGATE]}, id="lone-low-surrogate"),
    pytest.param(b'{"\\ud800": "x"}', SURROGATE, {"body": [SURROGATE]}, id="lone-surrogate-in-a-key"),
    pytest.param(b'{"text": "\xff\xfe"}', "The body is not valid UTF-8.", None, id="invalid-utf8-bytes"),
    pytest.param('{"text": "x"}'.encode("utf-16"), "The body is not valid UTF-8.", None, id="utf16-body"),
    pytest.param(b'{"text": "a\\u0000b"}', NUL, {"text": [NUL]}, id="nul-in-a-string"),
    pytest.param(b'{"lines": [{"name": "\\u0000"}]}', NUL, {"lines.0.name": [NUL]}, id="nul-deep-inside"),
    pytest.param(b'{"a\\u0000": 1}', NUL, {"body": [NUL]}, id="nul-in-a-key"),
    pytest.param(b'{"text": 1e999}', "A number is too large.", None, id="1e999-is-infinity"),
    pytest.param(b'{"text": -1e999}', "A number is too large.", None, id="minus-1e999"),
    pytest.param(b'{"text": NaN}', "NaN is not a JSON number.", None, id="nan-literal"),
    pytest.param(b'{"text": Infinity}', "Infinity is not a JSON number.", None, id="infinity-literal"),
    pytest.param(b'{"text": ' + b"9" * 5000 + b"}", "A number has more than 20 digits.", None, id="5000-digit-integer"),
    pytest.param(b'{"text": -' + b"1" * 21 + b"}", "A number has more than 20 digits.", None, id="21-digit-integer"),
    pytest.param(b"[]", NOT_OBJECT, None, id="empty-array"),
    pytest.param(b'[{"text": "x"}]', NOT_OBJECT, None, id="array-of-objects"),
    pytest.param(b'"text"', NOT_OBJECT, None, id="string"),
    pytest.param(b"null", NOT_OBJECT, None, id="null"),
    pytest.param(b"42", NOT_OBJECT, None, id="number"),
    pytest.param(b'{"text": ', "The body is not valid JSON.", None, id="truncated"),
    pytest.param(b'{"text": "x"} {}', "The body is not valid JSON.", None, id="trailing-data"),
]


def _store(client: Any, body: bytes) -> Any:
    return client.post("/api/store", body, content_type="application/json")


@pytest.mark.parametrize(("body", "detail", "errors"), MALFORMED_BODIES)
def test_malformed_body_is_a_400_problem_and_nothing_is_stored(
    client: Any, body: bytes, detail: str, errors: dict[str, list[str]] | None
) -> None:
    # when
    response = _store(client, body)

    # then
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == MALFORMED_JSON
    assert problem["detail"] == detail
    assert problem.get("errors") == errors
    assert HandlerEffect.objects.count() == 0


def test_valid_unicode_escaped_surrogate_pairs_and_long_integers_are_stored(client: Any) -> None:
    # given: a surrogate pair written as two escapes is one character (U+1F600), not a lone surrogate
    body = '{"text": "Grüße \\ud83d\\ude00 😀", "count": -9223372036854775808, "deep": %s}' % (
        "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    )

    # when
    response = _store(client, body.encode())

    # then
    assert response.status_code == 200, response.content
    assert response.json() == {"text": "Grüße \U0001f600 \U0001f600", "keys": ["count", "deep", "text"]}
    assert list(HandlerEffect.objects.values_list("order_id", flat=True)) == ["Grüße \U0001f600 \U0001f600"]


def test_empty_body_is_an_empty_object(client: Any) -> None:
    # when
    response = client.post("/api/store", b"", content_type="application/json")

    # then
    assert response.status_code == 200, response.content
    assert response.json() == {"text": "", "keys": []}
