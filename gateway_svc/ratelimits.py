"""Rate limits at the gateway (django-ratelimit counters in the default cache); over a limit is a 429 problem.

If the cache (Redis) is unreachable the limits fail open: the shop keeps serving and the outage is
logged, at most once per `_OUTAGE_LOG_INTERVAL` seconds so a Redis outage does not flood the logs.
"""

from __future__ import annotations

import enum
import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.http import HttpRequest
from django_ratelimit.core import get_usage

from gateway_svc import metrics
from gateway_svc.errors import GatewayErrorCode, RateLimited
from shopkit.logging import get_logger

log = get_logger(__name__)

_OUTAGE_LOG_INTERVAL = 30.0
_last_outage_log = {"at": float("-inf")}


class Scope(enum.StrEnum):
    """A limit: its settings name says how many requests per period."""

    LOGIN = "login"
    LOGIN_ACCOUNT = "login_account"
    REGISTER = "register"
    REFRESH = "refresh"
    CHECKOUT = "checkout"
    HEALTH = "health"
    DEFAULT = "default"

    @property
    def rate(self) -> str:
        rate: str = getattr(settings, f"RATE_LIMIT_{self.name}")
        return rate


# Every scope is exported from the start (at 0), so dashboards and alerts see a series, not "no data".
for _scope in Scope:
    metrics.RATE_LIMITED.labels(scope=_scope.value)


def client_ip(request: HttpRequest) -> str:
    """The connection's address, or the client's behind a trusted proxy (gateway_svc/edge.py decides which);
    never a header the caller chose."""
    return str(request.META.get("REMOTE_ADDR", "") or "unknown")


def _usage(request: HttpRequest, scope: Scope, key: str) -> dict[str, int | bool] | None:
    def key_fn(group: str, req: HttpRequest) -> str:
        return key

    usage: dict[str, int | bool] | None = get_usage(
        request, group=f"gateway-{scope.value}", key=key_fn, rate=scope.rate, increment=True
    )
    return usage


def _counts_in_process_memory() -> bool:
    return isinstance(caches[getattr(settings, "RATELIMIT_USE_CACHE", "default")], LocMemCache)


async def enforce(request: HttpRequest, scope: Scope, *, key: str) -> None:
    """Count one request against `scope` for `key`; raise a 429 problem when over the limit."""
    if not settings.RATE_LIMIT_ENABLED or not scope.rate:
        return
    if _counts_in_process_memory():
        usage = _usage(request, scope, key)  # a local-memory cache: no I/O, no reason to leave the loop
    else:
        # Cache calls are blocking socket I/O (up to the Redis socket timeout): keep them off the event loop.
        usage = await sync_to_async(_usage, thread_sensitive=False)(request, scope, key)
    if usage is None:
        _log_outage(scope)
        return
    if usage["should_limit"]:
        metrics.RATE_LIMITED.labels(scope=scope.value).inc()
        log.warning("rate_limited", scope=scope.value)
        retry_after = str(max(1, int(usage["time_left"])))
        raise RateLimited(
            "Too many requests; wait and try again.",
            code=GatewayErrorCode.RATE_LIMITED,
            headers={"Retry-After": retry_after},
        )


def _log_outage(scope: Scope) -> None:
    now = time.monotonic()
    if now - _last_outage_log["at"] >= _OUTAGE_LOG_INTERVAL:
        _last_outage_log["at"] = now
        log.warning("rate_limit_cache_unavailable", scope=scope.value, behaviour="fail_open")


async def enforce_default(request: HttpRequest) -> None:
    """The general per-client limit: per user when signed in, else per address."""
    claims = getattr(request, "auth", None)
    user_id = getattr(claims, "user_id", None)
    await enforce(request, Scope.DEFAULT, key=f"user:{user_id}" if user_id else f"ip:{client_ip(request)}")
