"""Assertions on RFC 9457 problem-details responses of a Django test client (every service's suite)."""

from __future__ import annotations

from typing import Any

TYPE_BASE = "https://shop.example/problems/"


def assert_problem(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert {"type", "title", "status", "detail", "trace_id"} <= set(body)
    if code is not None:
        assert body["type"] == TYPE_BASE + code
    return body
