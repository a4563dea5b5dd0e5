"""What every route shares: the documented error responses and the limited, forwarded call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse

from gateway_svc import ratelimits
from gateway_svc.schemas import Problem
from gateway_svc.upstream import Upstream, forward


def with_errors(ok: dict[int, Any], *statuses: int) -> dict[int, Any]:
    """`ok` plus a problem response for each status, and the ones any forwarded call can answer."""
    return {**ok, **dict.fromkeys(sorted({*statuses, 429, 503, 504}), Problem)}


async def proxy(
    request: HttpRequest,
    upstream: Upstream,
    method: str,
    path: str,
    *,
    params: Mapping[str, str] | None = None,
    json_body: Any = None,
    headers: Mapping[str, str] | None = None,
) -> HttpResponse:
    """The general per-client limit, then the downstream call; its answer is the gateway's."""
    await ratelimits.enforce_default(request)
    return await forward(request, upstream, method, path, params=params, json_body=json_body, headers=headers)
