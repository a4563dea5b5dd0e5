"""The read-only Docker API proxy Alloy uses instead of the engine's socket (tools/docker_socket_proxy.py).

The proxy runs as the real program (a subprocess on a Unix socket). No Docker engine may run here, so
a real HTTP server on a Unix socket stands in for it: it answers the calls Alloy makes with the
engine's shapes and records every request that reaches it.
"""

from __future__ import annotations

import json
import os
import shutil
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest

from tests.infra.support import ROOT

SECRET_ENV = ["DJANGO_SECRET_KEY=not-for-alloy", "DATABASE_URL=postgres://users:hunter2@users-db/users"]
INSPECT = {"Id": "abc123", "Name": "/shop-users-1", "Config": {"Env": SECRET_ENV, "Tty": False, "Labels": {"a": "b"}}}
CONTAINERS = [{"Id": "abc123", "Names": ["/shop-users-1"], "Labels": {"com.docker.compose.service": "users"}}]


class EngineStandIn:
    """A real HTTP/1.1 server on a Unix socket, answering like the Docker engine; records what it got."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.received: list[tuple[str, str]] = []
        self.first_log_line_read = threading.Event()
        engine = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                engine.received.append((self.command, self.path))
                route = self.path.split("?", 1)[0].removeprefix("/v1.47")
                if route == "/_ping":
                    self._reply(b"OK", "text/plain")
                elif route == "/version":
                    self._reply(json.dumps({"ApiVersion": "1.47", "Version": "27.0.0"}).encode())
                elif route == "/containers/json":
                    self._reply(json.dumps(CONTAINERS).encode())
                elif route == "/containers/abc123/json":
                    self._reply(json.dumps(INSPECT).encode())
                elif route == "/containers/abc123/logs":
                    self._stream_logs()
                else:
                    self._reply(b'{"message": "the engine did what was asked"}')

            def _reply(self, body: bytes, content_type: str = "application/json") -> None:
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Api-Version", "1.47")
                self.send_header("Content-Length", str(len(body)))
                # A stopped engine must look stopped: no kept-alive connection outlives it.
                self.send_header("Connection", "close")
                self.close_connection = True
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _stream_logs(self) -> None:
                # A followed log: the second line exists only after the client has read the first.
                self.send_response(200)
                self.send_header("Content-Type", "application/vnd.docker.multiplexed-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for line in (b"first line\n", b"second line\n"):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                    self.wfile.flush()
                    if line.startswith(b"first"):
                        engine.first_log_line_read.wait(timeout=30)
                self.wfile.write(b"0\r\n\r\n")

            do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _handle

            def log_message(self, format: str, *args: object) -> None:
                pass

        class Server(socketserver.ThreadingUnixStreamServer):
            daemon_threads = True

        self.server = Server(str(path), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _client(path: Path) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(uds=str(path)), base_url="http://docker", timeout=10.0)


def _socket_directory() -> Path:
    # Unix socket paths are limited to 108 bytes: a short directory of its own.
    return Path(tempfile.mkdtemp(prefix="dsp-", dir="/tmp"))


@pytest.fixture(scope="module")
def _running() -> Iterator[tuple[EngineStandIn, httpx.Client]]:
    """One engine stand-in and one proxy process for the module's tests (each starts in about a second)."""
    sockets = _socket_directory()
    engine = EngineStandIn(sockets / "engine.sock")
    proc = _start_proxy(sockets)
    with _client(sockets / "proxy.sock") as client:
        yield engine, client
    proc.terminate()
    proc.wait(timeout=10)
    engine.stop()
    shutil.rmtree(sockets, ignore_errors=True)


@pytest.fixture
def engine(_running: tuple[EngineStandIn, httpx.Client]) -> EngineStandIn:
    _running[0].received.clear()
    _running[0].first_log_line_read.clear()
    return _running[0]


@pytest.fixture
def proxy(_running: tuple[EngineStandIn, httpx.Client], engine: EngineStandIn) -> httpx.Client:
    return _running[1]


def _start_proxy(sockets: Path) -> subprocess.Popen[bytes]:
    listen = sockets / "proxy.sock"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tools.docker_socket_proxy",
            "--listen",
            str(listen),
            "--engine",
            str(sockets / "engine.sock"),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        if listen.exists():
            try:
                with _client(listen) as client:
                    client.head("/_ping")
                return proc
            except httpx.TransportError:
                pass
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("the proxy did not start within 30 s")


def test_the_calls_alloy_makes_pass_through_with_their_answers(proxy: httpx.Client, engine: EngineStandIn) -> None:
    # when: what the Docker Go client of discovery.docker and loki.source.docker sends
    ping = proxy.head("/_ping")
    version = proxy.get("/v1.47/version")
    listed = proxy.get("/v1.47/containers/json", params={"all": "1", "filters": '{"status":["running"]}'})
    networks = proxy.get("/v1.47/networks")

    # then
    assert (ping.status_code, ping.headers["Api-Version"]) == (200, "1.47")
    assert version.json() == {"ApiVersion": "1.47", "Version": "27.0.0"}
    assert listed.json() == CONTAINERS
    assert networks.status_code == 200
    assert engine.received == [
        ("HEAD", "/_ping"),
        ("GET", "/v1.47/version"),
        ("GET", "/v1.47/containers/json?all=1&filters=%7B%22status%22%3A%5B%22running%22%5D%7D"),
        ("GET", "/v1.47/networks"),
    ]


def test_inspect_answers_lose_the_containers_environment(proxy: httpx.Client) -> None:
    # when
    response = proxy.get("/v1.47/containers/abc123/json")

    # then: what reading logs needs stays; the secrets in the environment do not leave the proxy
    assert response.status_code == 200
    assert response.json() == {"Id": "abc123", "Name": "/shop-users-1", "Config": {"Tty": False, "Labels": {"a": "b"}}}
    assert int(response.headers["Content-Length"]) == len(response.content)
    assert b"hunter2" not in response.content


def test_followed_logs_stream_through_as_the_engine_writes_them(proxy: httpx.Client, engine: EngineStandIn) -> None:
    # when
    lines = []
    with proxy.stream("GET", "/v1.47/containers/abc123/logs", params={"follow": "1", "stdout": "1"}) as response:
        chunks = response.iter_raw()
        lines.append(next(chunks))
        # then: the first line arrived while the engine still holds the second
        engine.first_log_line_read.set()
        lines.extend(chunks)

    assert response.headers["Content-Type"] == "application/vnd.docker.multiplexed-stream"
    assert b"".join(lines) == b"first line\nsecond line\n"
    assert lines[0] == b"first line\n"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1.47/containers/create"),
        ("POST", "/v1.47/containers/abc123/start"),
        ("POST", "/v1.47/containers/abc123/kill"),
        ("POST", "/v1.47/containers/abc123/exec"),
        ("POST", "/v1.47/exec/e1/start"),
        ("DELETE", "/v1.47/containers/abc123"),
        ("PUT", "/v1.47/containers/abc123/archive?path=/etc"),
        ("GET", "/v1.47/containers/abc123/archive?path=/etc/shadow"),
        ("GET", "/v1.47/containers/abc123/export"),
        ("GET", "/v1.47/containers/abc123/attach/ws"),
        ("GET", "/v1.47/containers/abc123/top"),
        ("POST", "/v1.47/containers/abc123/logs"),
        ("GET", "/v1.47/images/json"),
        ("POST", "/v1.47/images/create?fromImage=alpine"),
        ("POST", "/v1.47/build"),
        ("GET", "/v1.47/info"),
        ("GET", "/v1.47/secrets"),
        ("GET", "/v1.47/volumes"),
        ("GET", "/v1.47/swarm"),
        ("GET", "/v1.47/containers/abc123%2F..%2F..%2Fexec"),
        ("GET", "/v1.47/containers/../images/json"),
        ("GET", "/v1.47/containers/abc123/json/../../create"),
        ("GET", "/v2/containers/json"),
    ],
)
def test_every_other_call_is_refused_and_never_reaches_the_engine(
    proxy: httpx.Client, engine: EngineStandIn, method: str, path: str
) -> None:
    # when: sent as written (no client-side normalisation of `..` or escapes)
    request = proxy.build_request(method, "http://docker/")
    request.url = request.url.copy_with(raw_path=path.encode())
    response = proxy.send(request)

    # then
    assert response.status_code == 403
    assert response.json() == {"message": "This Docker API call is not allowed through the read-only proxy."}
    assert engine.received == []


def test_the_health_check_follows_the_engine() -> None:
    # given
    sockets = _socket_directory()
    engine = EngineStandIn(sockets / "engine.sock")
    proc = _start_proxy(sockets)

    def check() -> int:
        argv = [sys.executable, "-m", "tools.docker_socket_proxy", "--check", str(sockets / "proxy.sock")]
        return subprocess.run(argv, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False).returncode

    try:
        # when / then: healthy while the engine answers, unhealthy once it is gone
        assert check() == 0
        engine.stop()
        (sockets / "engine.sock").unlink()
        assert check() == 1
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(sockets, ignore_errors=True)
