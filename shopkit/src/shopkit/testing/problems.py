"""Assertions on RFC 9457 problem-details responses, for every suite: a Django test client's or an httpx one's."""

from __future__ import annotations

import re
from typing import Any

from shopkit.problems import PROBLEM_CONTENT_TYPE, TYPE_BASE

# An OpenTelemetry trace id: what `trace_id` in a problem and the `X-Trace-Id` header carry.
TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


def assert_problem(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is a problem of this status (and type `code`), with the same trace id in body and header.

    `response.headers` and `.json()` are the same on a Django test client's response and an httpx.Response
    (the gateway's and the end-to-end suites), so one assertion serves every suite.
    """
    assert response.status_code == status, getattr(response, "text", None) or response.content
    assert response.headers["Content-Type"] == PROBLEM_CONTENT_TYPE, response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith(TYPE_BASE), body
    assert body["title"], body
    assert body["detail"], body
    # An untraced request (health probes are left out of tracing) has "" and no X-Trace-Id header.
    assert body["trace_id"] == "" or TRACE_ID.match(body["trace_id"]), body
    assert response.headers.get("X-Trace-Id", "") == body["trace_id"]
    if code is not None:
        assert body["type"] == TYPE_BASE + code
    return body
