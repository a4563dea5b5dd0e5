"""Every error a service can produce is RFC 9457 problem details carrying the trace id."""

from __future__ import annotations

from typing import Any

import pytest

from shopkit.testing.problems import assert_problem

pytestmark = [pytest.mark.urls("shopkit_tests.core_urls")]


def _problem(response: Any, status: int) -> dict[str, Any]:
    return assert_problem(response, status)


def test_unknown_path_is_a_404_problem(client: Any) -> None:
    body = _problem(client.get("/no/such/path"), 404)
    assert body["detail"] == "No resource at /no/such/path."


def test_http404_from_a_plain_view_is_a_problem(client: Any) -> None:
    _problem(client.get("/plain/404"), 404)


def test_method_not_allowed_keeps_the_allow_header(client: Any) -> None:
    response = client.get("/plain/405")
    _problem(response, 405)
    assert response["Allow"] == "POST"


def test_application_error_maps_to_its_status_code_and_extra_fields(client: Any) -> None:
    body = _problem(client.get("/api/fail/conflict"), 409)
    assert body["type"] == "https://shop.example/problems/thing-taken"
    assert body["detail"] == "The thing is taken."
    assert body["thing_id"] == "42"


@pytest.mark.parametrize("path", ["/api/fail/busy", "/plain/busy"], ids=["drf-view", "django-view"])
def test_application_error_headers_go_out_with_its_problem(client: Any, path: str) -> None:
    # when
    response = client.get(path)

    # then
    body = _problem(response, 503)
    assert (body["type"], body["detail"]) == ("https://shop.example/problems/busy", "Busy; try again.")
    assert response["Retry-After"] == "7"


def test_validation_errors_list_each_field(client: Any) -> None:
    body = _problem(client.post("/api/validate", {"quantity": 0}, content_type="application/json"), 400)
    assert body["type"] == "https://shop.example/problems/validation-error"
    assert list(body["errors"]) == ["quantity"]


def test_malformed_json_is_a_400_problem(client: Any) -> None:
    _problem(client.post("/api/validate", b'{"quantity": ', content_type="application/json"), 400)


def test_unhandled_exception_is_a_500_problem_without_internals(client: Any) -> None:
    response = client.get("/api/fail/boom")
    body = _problem(response, 500)
    assert "secret internal detail" not in response.content.decode()
    assert "Traceback" not in response.content.decode()
    assert body["detail"] == "An unexpected error occurred; it has been logged."


def test_database_down_is_a_503_problem_with_retry_after(client: Any) -> None:
    response = client.get("/api/fail/database")
    _problem(response, 503)
    assert response["Retry-After"] == "5"


def test_oversized_body_is_a_413_problem(client: Any, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    _problem(
        client.post("/api/validate", b'{"quantity": 1, "pad": "' + b"x" * 500 + b'"}', content_type="application/json"),
        413,
    )


def test_security_headers_are_on_every_response(client: Any) -> None:
    response = client.get("/health/live")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
