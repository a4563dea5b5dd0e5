"""Base of the tests' real HTTP stand-ins for other services: a threaded server on a free loopback port."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# What a JSON GET stand-in answers for (path, headers with lower-case names): status and body.
JsonAnswer = Callable[[str, dict[str, str]], tuple[int, bytes]]


def json_get_handler(answer: JsonAnswer) -> type[BaseHTTPRequestHandler]:
    """A quiet request handler answering every GET with `answer(path, headers)` as `application/json`."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = answer(self.path, {key.lower(): value for key, value in self.headers.items()})
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: pytest shows failures, not access logs."""

    return Handler


class StandInServer:
    """Serves `handler` on 127.0.0.1 (or `host`, e.g. the host's address on a test's Docker network) in a
    daemon thread from construction until `stop()`."""

    def __init__(
        self, handler: type[BaseHTTPRequestHandler], *, name: str, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True
        )
        self._thread.start()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # What callers configure as the service's base URL; a stand-in serving one path overrides it.
    url = base_url

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
