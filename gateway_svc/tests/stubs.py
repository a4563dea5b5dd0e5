"""Test stand-ins for the downstream services (real HTTP on a free port) and assertions on gateway answers."""

from __future__ import annotations

import json
import socket
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Reply:
    """What the stand-in answers: a body (JSON unless raw), or a delay, or a dropped connection."""

    status: int = 200
    body: Any = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


class StubUpstream:
    """A threaded HTTP server with canned replies per (method, path); records every request it gets."""

    def __init__(self) -> None:
        self.replies: dict[tuple[str, str], Reply] = {}
        self.received: list[Received] = []
        self.release = threading.Event()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                stub.received.append(
                    Received(
                        method=self.command,
                        path=url.path,
                        query=dict(parse_qsl(url.query)),
                        headers={k.lower(): v for k, v in self.headers.items()},
                        body=json.loads(raw) if raw else None,
                    )
                )
                reply = stub.replies.get((self.command, url.path), Reply(status=404, body={"detail": "no stub"}))
                if reply.delay:
                    stub.release.wait(reply.delay)
                if reply.drop:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                content = b""
                if reply.body is not None:
                    content = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                if reply.status != 204:
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(content)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PATCH = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def reply(self, method: str, path: str, **kwargs: Any) -> None:
        self.replies[(method, path)] = Reply(**kwargs)

    def calls(self, method: str, path: str) -> list[Received]:
        return [r for r in self.received if (r.method, r.path) == (method, path)]

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def free_port_url() -> str:
    """An address where nothing listens: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def problem(status: int, detail: str = "Something went wrong.", **extra: Any) -> dict[str, Any]:
    """A downstream problem document, as shopkit renders one."""
    return {
        "type": f"https://shop.example/problems/{status}",
        "title": "Problem",
        "status": status,
        "detail": detail,
        "trace_id": "0" * 32,
        **extra,
    }


def product_body(product_id: str | None = None, **overrides: Any) -> dict[str, Any]:
    body = {
        "id": product_id or str(uuid.uuid4()),
        "sku": "LAMP-1",
        "name": "Desk Lamp",
        "slug": "desk-lamp",
        "description": "",
        "price": "19.99",
        "currency": "USD",
        "stock": 4,
        "active": True,
        "category": {"id": str(uuid.uuid4()), "slug": "lighting", "name": "Lighting"},
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
    }
    body.update(overrides)
    return body
