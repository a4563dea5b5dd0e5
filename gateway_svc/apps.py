"""The gateway's app config: no per-request work that only database-backed services need."""

from __future__ import annotations

from django.apps import AppConfig
from django.core import signals


class GatewayConfig(AppConfig):
    name = "gateway_svc"
    verbose_name = "Gateway"

    def ready(self) -> None:
        # The gateway has no database, and its caches keep pooled connections. Django would still run
        # these synchronous receivers on every request, each a hop to a new per-request thread
        # under ASGI (see docs/BENCHMARKS.md, gateway hop).
        from django.core.cache import close_caches
        from django.db import close_old_connections, reset_queries

        signals.request_started.disconnect(reset_queries)
        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_caches)
