"""The gateway's readiness: its cache and every downstream service, checked concurrently (it has no database)."""

from __future__ import annotations

import asyncio

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from gateway_svc.upstream import Upstream, probe
from shopkit.health import check_cache
from shopkit.logging import get_logger
from shopkit.problems import problem_response

log = get_logger(__name__)


async def _cache_status() -> str:
    try:
        await sync_to_async(check_cache, thread_sensitive=False)()
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready", reported not raised
        log.warning("readiness_check_failed", check="cache", error=str(exc))
        return f"error: {type(exc).__name__}"
    return "ok"


async def checks() -> dict[str, str]:
    upstreams = list(Upstream)
    results = await asyncio.gather(_cache_status(), *(probe(upstream) for upstream in upstreams))
    return {
        "cache": results[0],
        **{upstream.value: status for upstream, status in zip(upstreams, results[1:], strict=True)},
    }


async def report() -> HttpResponse:
    """200 with every check when all are ok, else a 503 problem naming the failing ones."""
    results = await checks()
    if any(status != "ok" for status in results.values()):
        return problem_response(
            503,
            detail="A dependency is unavailable.",
            headers={"Retry-After": "5"},
            service=settings.SERVICE_NAME,
            checks=results,
        )
    return JsonResponse({"status": "ok", "service": settings.SERVICE_NAME, "checks": results})


async def ready(request: HttpRequest) -> HttpResponse:
    """`/health/ready` (the platform's path) for the gateway."""
    if request.method != "GET":
        return problem_response(405, detail=f"Method {request.method} is not allowed here.", headers={"Allow": "GET"})
    return await report()
