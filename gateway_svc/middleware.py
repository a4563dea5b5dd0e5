"""The gateway's ASGI wrapper (lifespan, request-body cap) and the Django middleware that answers for the cap."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import sync_and_async_middleware

from gateway_svc.errors import GatewayErrorCode
from gateway_svc.upstream import close_client
from shopkit.problems import problem_response

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[..., Awaitable[None]]

BODY_TOO_LARGE = "shop.body_too_large"


class GatewayASGI:
    """Wraps Django's ASGI handler: answers the lifespan protocol (closing the upstream pool on shutdown)
    and stops reading a request body past `DATA_UPLOAD_MAX_MEMORY_SIZE`, which Django checks only
    against a declared Content-Length after buffering the whole body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] == "http":
            receive = _capped(scope, receive, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        await self.app(scope, receive, send)

    @staticmethod
    async def _lifespan(receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await close_client()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _capped(scope: Scope, receive: Receive, limit: int) -> Receive:
    received = 0

    async def capped_receive() -> Message:
        nonlocal received
        if scope.get(BODY_TOO_LARGE):
            # The body was cut short: drop the rest until the client goes away.
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    return message
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                scope[BODY_TOO_LARGE] = True
                return {"type": "http.request", "body": b"", "more_body": False}
        return message

    return capped_receive


def _too_large() -> HttpResponse:
    return problem_response(413, detail="The request body is too large.", code=GatewayErrorCode.BODY_TOO_LARGE.value)


@sync_and_async_middleware
def BodyLimitMiddleware(
    get_response: Callable[[HttpRequest], Any],
) -> Callable[[HttpRequest], Any]:
    """Answers 413 for a body `GatewayASGI` cut short, before any view reads the truncated bytes."""
    if iscoroutinefunction(get_response):

        async def middleware(request: HttpRequest) -> HttpResponse:
            if getattr(request, "scope", {}).get(BODY_TOO_LARGE):
                return _too_large()
            response: HttpResponse = await get_response(request)
            return response

        return middleware

    def sync_middleware(request: HttpRequest) -> HttpResponse:
        response: HttpResponse = get_response(request)
        return response

    return sync_middleware
