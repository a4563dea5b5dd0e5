"""Versioned caching of catalog reads: any change bumps one version key, so every older entry stops being read."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

import structlog
from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from product_svc.catalog import metrics
from shopkit.faults import fault_enabled

log = structlog.get_logger(__name__)

T = TypeVar("T")

VERSION_KEY = "catalog:version"


# The version as this process last read or wrote it, and until when it may be reused without asking
# the cache (CATALOG_VERSION_REUSE_SECONDS; 0, the default with Redis, asks on every read).
_seen: dict[str, float] = {"version": 0, "until": 0.0}


def _version() -> int | None:
    """The current catalog version, or None when the cache is unusable (then nothing is cached)."""
    reuse = settings.CATALOG_VERSION_REUSE_SECONDS
    if reuse > 0 and time.monotonic() < _seen["until"]:
        return int(_seen["version"])
    version = _read_version()
    if reuse > 0 and version is not None:
        _seen.update(version=version, until=time.monotonic() + reuse)
    return version


def _read_version() -> int | None:
    version = cache.get(VERSION_KEY)
    if version is None:
        # add() so that two first readers agree on one starting value; it never expires. The start is
        # the clock, not 1: if the key was evicted, entries cached under an earlier version stay unread.
        cache.add(VERSION_KEY, _fresh_version(), timeout=None)
        version = cache.get(VERSION_KEY)
    return int(version) if version is not None else None


def _fresh_version() -> int:
    return time.time_ns() // 1_000_000


def cache_key(kind: str, **parts: Any) -> str:
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]
    return f"catalog:{kind}:{digest}"


def cached(key: str, produce: Callable[[], T]) -> T:
    """Read `key` at the current catalog version, or produce and store it for CATALOG_CACHE_SECONDS.

    The version is read before the database, so a value computed from data older than a change is
    stored under the old version, which nobody reads any more.
    """
    if not settings.CATALOG_CACHE_ENABLED:
        return produce()
    version = _version()
    if version is None:
        metrics.CATALOG_CACHE.labels(result="bypass").inc()
        return produce()
    versioned = f"{key}:v{version}"
    # The catalog-cache-off fault: every read asks Redis for a key nobody stores, a real miss (docs/faults.md).
    hit = cache.get(f"{versioned}:cache-off" if fault_enabled("catalog-cache-off") else versioned)
    if hit is not None:
        metrics.CATALOG_CACHE.labels(result="hit").inc()
        return hit  # type: ignore[no-any-return]
    metrics.CATALOG_CACHE.labels(result="miss").inc()
    value = produce()
    cache.set(versioned, value, timeout=settings.CATALOG_CACHE_SECONDS)
    return value


def catalog_changed() -> None:
    """Invalidate every cached catalog read once the current transaction commits."""
    transaction.on_commit(_bump)


def _bump() -> None:
    _seen["until"] = 0.0  # this process sees its own change at once
    try:
        cache.incr(VERSION_KEY)
    except ValueError:
        # No version yet (first change, or evicted): a fresh one differs from any cached before.
        cache.add(VERSION_KEY, _fresh_version(), timeout=None)
    log.debug("catalog_cache_invalidated")
