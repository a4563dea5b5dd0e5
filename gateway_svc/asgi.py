"""ASGI entry point of the gateway service (uvicorn), on a Django handler without the per-request thread.

One of the gateway's shortcuts through Django internals, kept and guarded (why, and how: gateway_svc/apps.py).
"""

import os
from typing import Any

import django
from django.core.handlers.asgi import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_svc.settings")


class GatewayHandler(ASGIHandler):
    """Django's ASGI handler without a per-request `ThreadSensitiveContext`.

    That context gives each request its own thread for thread-sensitive synchronous code, created and
    joined per request even when the only such call is Django closing the response: about a seventh of
    the gateway's CPU under load (docs/BENCHMARKS.md). The gateway has no database and no session, so
    nothing it runs is tied to a thread; such calls share asgiref's one synchronous thread instead.
    Written against Django 5.2's `ASGIHandler.__call__` (`apps.WRITTEN_FOR`); tests/test_thread_hops.py
    fails if a request gets its own thread again.
    """

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        await self.handle(scope, receive, send)


django.setup(set_prefix=False)
django_application = GatewayHandler()

from gateway_svc.edge import EdgeHeaders  # noqa: E402 - needs Django set up first
from gateway_svc.middleware import GatewayASGI  # noqa: E402
from shopkit.tracing import wrap_asgi  # noqa: E402

# The edge layer is outermost: traces, logs and rate limits all see the client address it decided on.
application = EdgeHeaders(wrap_asgi(GatewayASGI(django_application)))
