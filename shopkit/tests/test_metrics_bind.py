"""Worker metrics servers (gRPC server, relays, consumers) listen on loopback unless told otherwise."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from typing import Any

import httpx
import pytest

from shopkit.events.metrics import serve_metrics


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _non_loopback_address() -> str:
    """This machine's address on its default route (a UDP connect sends nothing), or one its name resolves to."""
    candidates: list[str] = []
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.123", 9))
        candidates.append(probe.getsockname()[0])
    with contextlib.suppress(OSError):
        candidates += [info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)]
    usable = [a for a in candidates if not ipaddress.ip_address(a).is_loopback and a != "0.0.0.0"]  # noqa: S104
    if not usable:
        pytest.skip("this machine has no non-loopback IPv4 address to try")
    return str(usable[0])


def _answers(host: str, port: int) -> bool:
    try:
        return httpx.get(f"http://{host}:{port}/metrics", timeout=2.0).status_code == 200
    except httpx.ConnectError:
        return False


def _serve(port: int) -> Any:
    server = serve_metrics(port)
    assert server is not None
    return server


def test_worker_metrics_listen_on_loopback_by_default() -> None:
    # given
    port, elsewhere = _free_port(), _non_loopback_address()

    # when
    server = _serve(port)
    try:
        # then
        assert server.server_address[0] == "127.0.0.1"
        assert _answers("127.0.0.1", port)
        assert not _answers(elsewhere, port)
    finally:
        server.shutdown()
        server.server_close()


def test_metrics_bind_opens_worker_metrics_to_the_network(settings: Any) -> None:
    # given: the compose stack's setting, so Prometheus can scrape across the network
    settings.METRICS_BIND = "0.0.0.0"  # noqa: S104 - what the test is about
    port, elsewhere = _free_port(), _non_loopback_address()

    # when
    server = _serve(port)
    try:
        # then
        assert _answers("127.0.0.1", port)
        assert _answers(elsewhere, port)
    finally:
        server.shutdown()
        server.server_close()
