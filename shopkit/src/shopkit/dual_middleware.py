"""The base of shopkit's middleware that runs on the request's own path under WSGI and ASGI alike."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse


class DualModeMiddleware:
    """Sync and async capable: Django hands it a coroutine `get_response` under ASGI, a function under WSGI.

    Not Django's MiddlewareMixin: under ASGI that runs `process_response` through `sync_to_async`, one thread
    hop per request, which the gateway's event loop avoids (gateway_svc/inline_middleware.py).
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        """Under ASGI (marked a coroutine function) return the coroutine of the async path, else the response."""
        raise NotImplementedError


class ResponseMiddleware(DualModeMiddleware):
    """Middleware that only looks at (and may replace) the response: subclasses define `process_response`."""

    def __call__(self, request: HttpRequest) -> Any:
        if iscoroutinefunction(self):
            return self.__acall__(request)
        return self.process_response(request, self.get_response(request))

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        awaitable: Awaitable[HttpResponse] = self.get_response(request)
        return self.process_response(request, await awaitable)

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        return response
