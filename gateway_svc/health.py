"""The gateway's readiness: its cache and every downstream service, checked concurrently (it has no database).

A check fans out to four services and writes to the cache, so it runs at most once at a time per process and
its result is reused for `HEALTH_CACHE_SECONDS`: however many callers ask, the downstreams see a few probes a
second. The public `GET /api/health` says only whether the shop is up; `/health/ready` (internal) names each check.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from gateway_svc.errors import GatewayErrorCode
from gateway_svc.upstream import Upstream, probe
from shopkit.health import check_cache
from shopkit.logging import get_logger
from shopkit.problems import problem_response

log = get_logger(__name__)


@dataclass(frozen=True)
class _Result:
    checks: dict[str, str]
    at: float


_last: dict[str, _Result] = {}
# The fan-out in progress, per event loop (uvicorn runs one per process; tests one per call).
_running: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task[dict[str, str]]] = (
    weakref.WeakKeyDictionary()
)


async def _cache_status() -> str:
    try:
        await sync_to_async(check_cache, thread_sensitive=False)()
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready", reported not raised
        log.warning("readiness_check_failed", check="cache", error=str(exc))
        return f"error: {type(exc).__name__}"
    return "ok"


async def _fan_out() -> dict[str, str]:
    upstreams = list(Upstream)
    results = await asyncio.gather(_cache_status(), *(probe(upstream) for upstream in upstreams))
    return {
        "cache": results[0],
        **{upstream.value: status for upstream, status in zip(upstreams, results[1:], strict=True)},
    }


def _finished(loop: asyncio.AbstractEventLoop, task: asyncio.Task[dict[str, str]]) -> None:
    if _running.get(loop) is task:
        del _running[loop]
    if not task.cancelled() and task.exception() is None:
        _last["result"] = _Result(checks=task.result(), at=time.monotonic())


async def checks() -> dict[str, str]:
    """Every check's status: the last result while it is fresh, else the one fan-out every caller waits for."""
    last = _last.get("result")
    if last is not None and time.monotonic() - last.at < settings.HEALTH_CACHE_SECONDS:
        return last.checks
    loop = asyncio.get_running_loop()
    running = _running.get(loop)
    if running is None:
        running = loop.create_task(_fan_out())
        _running[loop] = running
        running.add_done_callback(lambda task: _finished(loop, task))
    # Shielded: a caller who hangs up does not cancel the check the others are waiting for.
    return await asyncio.shield(running)


def forget() -> None:
    """Drop the remembered result (settings changed, or a test starts afresh)."""
    _last.clear()


async def report() -> HttpResponse:
    """200 with every check when all are ok, else a 503 problem naming the failing ones (internal)."""
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


async def public_report() -> HttpResponse:
    """`{"status": "ok"}` when the gateway and every downstream are ready, else a 503 problem without detail:
    which dependency is down, and how, is for the internal readiness endpoints."""
    results = await checks()
    if any(status != "ok" for status in results.values()):
        return problem_response(
            503,
            detail="The shop is unavailable; try again shortly.",
            code=GatewayErrorCode.SHOP_UNAVAILABLE.value,
            headers={"Retry-After": "5"},
        )
    return JsonResponse({"status": "ok"})


async def ready(request: HttpRequest) -> HttpResponse:
    """`/health/ready` (the platform's path) for the gateway."""
    if request.method != "GET":
        return problem_response(405, detail=f"Method {request.method} is not allowed here.", headers={"Allow": "GET"})
    return await report()
