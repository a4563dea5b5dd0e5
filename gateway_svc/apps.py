"""The gateway's app config: a guard on the Django internals its request cycle skips, and no database receivers.

The gateway keeps three shortcuts through Django internals, measured and tested rather than replaced:
its own ASGI handler without the per-request thread (asgi.py), Django's and django-prometheus'
middleware with their hooks run inline (inline_middleware.py) and the database and cache receivers
of the request signals disconnected (below). Django offers no supported switch for any of them: its
ASGI handler always opens a `ThreadSensitiveContext`, `MiddlewareMixin` always runs a synchronous
hook through `sync_to_async`, and the request signals always run synchronous receivers the same way.
On Django's own cycle a proxied request makes 14 thread hops, each to a thread made for the request;
with them it makes one, Django closing the response, on asgiref's shared thread: 127-224 against
56-188 requests/s in an A/B on the shared machine (docs/guides/gateway.md). Replacing them would mean
rewriting Django's, django-prometheus' and django-structlog's middleware as our own async classes,
more code to keep in step than the guard: `gateway_svc/tests/test_thread_hops.py` fails when a hop
comes back, and `check_written_for` stops the gateway at start on a release of Django or of those
middleware packages they were not written for.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import version

from django.apps import AppConfig
from django.core import signals
from django.core.exceptions import ImproperlyConfigured

# The releases whose code the shortcuts were read against: ASGIHandler.__call__ and send_response,
# MiddlewareMixin.__acall__, the receivers of request_started/request_finished (Django), the hooks of
# PrometheusBeforeMiddleware (django-prometheus) and RequestMiddleware.prepare/handle_response
# (django-structlog). A new release: read those again, run the gateway suite, then widen this.
WRITTEN_FOR = {"django": "5.2", "django-prometheus": "2.5", "django-structlog": "11"}


def check_written_for(installed: Mapping[str, str]) -> None:
    """Refuse to start on a release the gateway's shortcuts through Django internals were not written for."""
    for package, release in WRITTEN_FOR.items():
        found = installed[package]
        if found.split(".")[: release.count(".") + 1] != release.split("."):
            raise ImproperlyConfigured(
                f"gateway_svc bypasses parts of {package}'s request cycle written for {package} {release}.x, "
                f"and {found} is installed: re-read what gateway_svc/apps.py names, then update WRITTEN_FOR."
            )


class GatewayConfig(AppConfig):
    name = "gateway_svc"
    verbose_name = "Gateway"

    def ready(self) -> None:
        check_written_for({package: version(package) for package in WRITTEN_FOR})
        # The gateway has no database, and its caches keep pooled connections. Django would still run
        # these synchronous receivers on every request, each a hop to a new per-request thread
        # under ASGI.
        from django.core.cache import close_caches
        from django.db import close_old_connections, reset_queries

        signals.request_started.disconnect(reset_queries)
        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_caches)
