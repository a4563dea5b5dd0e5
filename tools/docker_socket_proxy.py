"""A read-only slice of the Docker Engine API on a Unix socket, for Grafana Alloy's log collection.

Whoever reaches the engine's own socket controls the host (`docker run --privileged -v /:/host`).
Alloy needs only to list containers, inspect them, follow their logs and watch events, so in the
compose stack (compose/docker-compose.yml, `docker-socket-proxy`) this process is the socket's only
holder and Alloy talks to it instead, through a socket in a volume only the two share:

    python -m tools.docker_socket_proxy --listen /run/docker-proxy/docker.sock --engine /var/run/docker.sock
    python -m tools.docker_socket_proxy --check /run/docker-proxy/docker.sock      # health check

Only GET and HEAD of the paths in ALLOWED pass (optionally under a `/v1.NN` API-version prefix);
everything else (exec, create, start, kill, archive, export, images, volumes, secrets, swarm...) is a
403 that never reaches the engine. Inspect answers lose `Config.Env`: containers' environments hold
secrets, and reading logs needs none of them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import httpx
import structlog
import uvicorn

log = structlog.get_logger("docker_socket_proxy")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_VERSION = rb"(?:/v1\.\d{1,3})?"
_CONTAINER = rb"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}"
# What Alloy's discovery.docker and loki.source.docker call (the Docker Go client's version
# negotiation included): nothing that changes state or reads a container's files.
ALLOWED = re.compile(
    _VERSION + rb"/(?:_ping|version|events|networks|containers/json|containers/" + _CONTAINER + rb"/(?:json|logs))"
)
_INSPECT = re.compile(_VERSION + rb"/containers/" + _CONTAINER + rb"/json")
ALLOWED_METHODS = frozenset({"GET", "HEAD"})
# Hop-by-hop headers belong to each connection, not to the message.
_HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"transfer-encoding", b"upgrade", b"proxy-connection", b"te"})


def allowed(method: str, raw_path: bytes) -> bool:
    # An escaped character could hide a `/` from this check and still mean one to the engine.
    return method in ALLOWED_METHODS and b"%" not in raw_path and ALLOWED.fullmatch(raw_path) is not None


def _without_environment(body: bytes) -> bytes:
    """An inspect answer without the container's environment variables (they hold secrets)."""
    try:
        document = json.loads(body)
    except ValueError:
        return body
    if isinstance(document, dict) and isinstance(document.get("Config"), dict):
        document["Config"].pop("Env", None)
    return json.dumps(document).encode()


class DockerReadOnlyProxy:
    """The ASGI application: checks each request, forwards the allowed ones, streams the answer back."""

    def __init__(self, engine_socket: str) -> None:
        self.engine_socket = engine_socket
        self._client: httpx.AsyncClient | None = None

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            # No read timeout: followed logs and events stream for as long as Alloy listens.
            self._client = httpx.AsyncClient(
                transport=httpx.AsyncHTTPTransport(uds=self.engine_socket),
                base_url="http://docker",
                timeout=httpx.Timeout(None, connect=5.0),
            )
        return self._client

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        method, raw_path = scope["method"], scope.get("raw_path") or scope["path"].encode()
        if not allowed(method, raw_path):
            log.warning("docker_api_refused", method=method, path=raw_path.decode("latin-1"))
            await _answer(send, 403, {"message": "This Docker API call is not allowed through the read-only proxy."})
            return
        await self._forward(scope, send, method, raw_path)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._client is not None:
                    await self._client.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _forward(self, scope: Scope, send: Send, method: str, raw_path: bytes) -> None:
        target = raw_path.decode("ascii")
        if scope.get("query_string"):
            target += "?" + scope["query_string"].decode("latin-1")
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in _HOP_BY_HOP | {b"host", b"content-length"}]
        request = self.client().build_request(method, target, headers=headers)
        try:
            upstream = await self.client().send(request, stream=True)
        except httpx.HTTPError as exc:
            log.error("docker_engine_unreachable", error=str(exc))
            await _answer(send, 502, {"message": "The Docker engine is unreachable."})
            return
        try:
            response_headers = [(k, v) for k, v in upstream.headers.raw if k.lower() not in _HOP_BY_HOP]
            if method == "GET" and upstream.status_code == 200 and _INSPECT.fullmatch(raw_path):
                body = _without_environment(await upstream.aread())
                response_headers = [(k, v) for k, v in response_headers if k.lower() != b"content-length"]
                response_headers.append((b"content-length", str(len(body)).encode()))
                await send({"type": "http.response.start", "status": 200, "headers": response_headers})
                await send({"type": "http.response.body", "body": body})
                return
            await send({"type": "http.response.start", "status": upstream.status_code, "headers": response_headers})
            async for chunk in upstream.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await upstream.aclose()


async def _answer(send: Send, status: int, body: dict[str, str]) -> None:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def serve(listen: Path, engine: str) -> None:
    # A socket left by an earlier run (the volume outlives the container) would make bind fail.
    with contextlib.suppress(FileNotFoundError):
        listen.unlink()
    log.info("docker_socket_proxy_started", listen=str(listen), engine=engine)
    uvicorn.run(DockerReadOnlyProxy(engine), uds=str(listen), lifespan="on", access_log=False, log_level="warning")


def check(listen: Path) -> int:
    """The container's health check: the proxy answers and the engine behind it does too."""
    try:
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(listen)), base_url="http://docker") as client:
            return 0 if client.get("/_ping", timeout=3.0).status_code == 200 else 1
    except httpx.HTTPError:
        return 1


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--listen", type=Path, help="the Unix socket to serve (Alloy's DOCKER_HOST)")
    parser.add_argument("--engine", default="/var/run/docker.sock", help="the Docker engine's Unix socket")
    parser.add_argument("--check", type=Path, metavar="SOCKET", help="probe a running proxy and exit")
    args = parser.parse_args(argv)
    if args.check:
        return check(args.check)
    if not args.listen:
        parser.error("--listen is required")
    serve(args.listen, args.engine)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
