"""What every route shares: the documented error responses and the limited, forwarded call."""

from __future__ import annotations

from typing import Any, Unpack

from django.http import HttpRequest, HttpResponse

from gateway_svc import ratelimits
from gateway_svc.schemas import Problem
from gateway_svc.upstream import CallOptions, Upstream, call, to_django


def with_errors(ok: dict[int, Any], *statuses: int) -> dict[int, Any]:
    """`ok` plus a problem response for each status, and the ones any forwarded call can answer."""
    return {**ok, **dict.fromkeys(sorted({*statuses, 429, 503, 504}), Problem)}


async def proxy(
    request: HttpRequest, upstream: Upstream, method: str, path: str, **options: Unpack[CallOptions]
) -> HttpResponse:
    """The general per-client limit, then the downstream call; its answer is the gateway's."""
    await ratelimits.enforce_default(request)
    return to_django(await call(request, upstream, method, path, **options))
