"""Assertions on problem-details responses, shared by the end-to-end tests."""

from __future__ import annotations

import re

import httpx

TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    assert body["type"].startswith("https://")
    assert TRACE_ID.match(response.headers["x-trace-id"])
    assert body["trace_id"] == response.headers["x-trace-id"]
    return body
