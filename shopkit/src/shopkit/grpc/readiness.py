"""Readiness of products' callers: products' gRPC server answers SERVING on the channel the service calls it on.

    SHOP_READY_CHECKS = {"products_grpc": "shopkit.grpc.readiness.check_products_grpc"}

The check is grpc.health.v1 Health/Check over the process-wide products client (shopkit.grpc.products): the
same target, the same mutual TLS identity, the same connection, so it fails exactly when calls to products
would: nothing listening, a server only reachable on another address, TLS refused either way, no answer
within `PRODUCTS_GRPC_READY_TIMEOUT_SECONDS`, or a status other than SERVING. Its outcome, good or bad, is
reused for `PRODUCTS_GRPC_READY_CACHE_SECONDS` and one probe at a time asks, so a burst of readiness probes
is one call to products (per process: each process has its own channel, so each checks its own).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from django.conf import settings

from shopkit.grpc.products import ProductsServiceUnavailable, products_client

# Readiness probes (Docker, the gateway) give up after a few seconds: the check never waits longer than this.
MAX_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class _Outcome:
    target: str
    at: float
    error: str | None  # the failure's detail; None when products answered SERVING


_lock = threading.Lock()
_last: dict[str, _Outcome] = {}


def check_products_grpc() -> None:
    """Raise ProductsServiceUnavailable unless products' gRPC server answered SERVING (recently enough)."""
    target = str(settings.PRODUCTS_GRPC_TARGET)
    with _lock:
        last = _last.get("outcome")
        if last is None or last.target != target or time.monotonic() - last.at >= _cache_seconds():
            last = _Outcome(target=target, at=time.monotonic(), error=_ask())
            _last["outcome"] = last
    if last.error is not None:
        raise ProductsServiceUnavailable(last.error)


def forget() -> None:
    """Drop the remembered outcome (tests stop and start servers on the same target)."""
    with _lock:
        _last.clear()


def deadline_seconds() -> float:
    """How long one Health/Check may take: `PRODUCTS_GRPC_READY_TIMEOUT_SECONDS`, at most MAX_TIMEOUT_SECONDS."""
    return min(float(settings.PRODUCTS_GRPC_READY_TIMEOUT_SECONDS), MAX_TIMEOUT_SECONDS)


def _ask() -> str | None:
    try:
        products_client().check_serving(timeout=deadline_seconds())
    except ProductsServiceUnavailable as exc:
        return exc.detail
    return None


def _cache_seconds() -> float:
    return float(settings.PRODUCTS_GRPC_READY_CACHE_SECONDS)


__all__ = ["MAX_TIMEOUT_SECONDS", "check_products_grpc", "deadline_seconds", "forget"]
