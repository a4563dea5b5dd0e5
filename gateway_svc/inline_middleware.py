"""Django's and django-prometheus' middleware, with their hooks run on the gateway's event loop.

Under ASGI, Django runs every synchronous hook of a `MiddlewareMixin` (process_request,
process_view, process_response) through `sync_to_async(thread_sensitive=True)`: a hand-off to the
request's own worker thread and back, per hook, per request. These hooks only read and set headers
and bump in-memory counters (no I/O), so the gateway runs them inline instead: same classes, same
behaviour, one coroutine. Measured by `make bench` (gateway hop row) and docs/guides/gateway.md.
Kept rather than rewritten as our own async middleware, and guarded: tests/test_thread_hops.py
fails when a hook hops again, and the gateway will not start on a release of Django,
django-prometheus or django-structlog these were not written for (gateway_svc/apps.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, cast

import structlog
from django.http import HttpRequest, HttpResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware as DjangoXFrameOptions
from django.middleware.common import CommonMiddleware as DjangoCommon
from django.middleware.security import SecurityMiddleware as DjangoSecurity
from django_prometheus.middleware import PrometheusBeforeMiddleware as DjangoPrometheusBefore

from shopkit.metrics import PrometheusAfterMiddleware as TracedPrometheusAfter
from shopkit.middleware import RequestLogMiddleware as ShopRequestLog


class InlineHooks:
    """For a `MiddlewareMixin` whose hooks do no I/O: call them directly in async mode."""

    get_response: Any

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        response: HttpResponse | None = None
        if hasattr(self, "process_request"):
            response = self.process_request(request)
        if response is None:
            response = await self.get_response(request)
        if hasattr(self, "process_response"):
            response = self.process_response(request, response)
        return response


class SecurityMiddleware(InlineHooks, DjangoSecurity):
    pass


class CommonMiddleware(InlineHooks, DjangoCommon):
    pass


class XFrameOptionsMiddleware(InlineHooks, DjangoXFrameOptions):
    pass


class PrometheusBeforeMiddleware(InlineHooks, DjangoPrometheusBefore):  # type: ignore[misc]
    pass


class PrometheusAfterMiddleware(InlineHooks, TracedPrometheusAfter):
    """shopkit's (request latency with the trace as exemplar), hooks inline."""

    async def process_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        # A coroutine, so Django calls it without a thread hop.
        super().process_view(request, *args, **kwargs)


class RequestLogMiddleware(ShopRequestLog):
    """shopkit's request logging (django-structlog's, quiet for probes) with its two hooks (bind context,
    write one line) run inline: django-structlog's own async path runs each through a thread-sensitive
    `sync_to_async`."""

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        self.prepare(request)
        try:
            response: HttpResponse = await cast(Awaitable[HttpResponse], self.get_response(request))
        except asyncio.CancelledError:
            structlog.get_logger("django_structlog.middlewares.request").warning("request_cancelled")
            raise
        self.handle_response(request, response)
        return response
