"""The client address rate limits key on: the connection's, unless it comes from a trusted proxy."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway_svc.edge import client_address, edge_headers, parse_networks
from gateway_svc.tests.conftest import Gateway
from gateway_svc.tests.stubs import StubUpstream
from shopkit.testing.problems import assert_problem
from shopkit.testing.processes import child_env, free_port, run_python
from shopkit.testing.server_logs import running_server
from tools.shoprun import Stack

TOKENS = {"access": "a", "refresh": "r", "token_type": "Bearer", "expires_in": 300}
PROXY = ("10.210.0.2", 52000)  # an address inside the configured proxy network


def _login(gateway: Gateway, forwarded_for: str, n: int) -> int:
    response = gateway.post(
        "/api/auth/login",
        json={"email": f"user{n}@example.com", "password": "pw"},
        headers={"X-Forwarded-For": forwarded_for},
    )
    return response.status_code


def test_rotating_forwarded_for_from_a_direct_client_still_hits_the_login_limit(
    gateway: Gateway, upstream: StubUpstream, settings: Any
) -> None:
    # given: no proxy is trusted (make run's default)
    settings.TRUSTED_PROXIES = []
    settings.RATE_LIMIT_LOGIN = "2/m"
    upstream.reply("POST", "/api/auth/login", body=TOKENS)

    # when: a new made-up address each time
    statuses = [_login(gateway, f"198.51.100.{n}", n) for n in range(3)]

    # then
    assert statuses == [200, 200, 429]
    assert "x-forwarded-for" not in upstream.calls("POST", "/api/auth/login")[0].headers


def test_behind_a_trusted_proxy_the_forwarded_client_address_counts(upstream: StubUpstream, settings: Any) -> None:
    # given
    settings.TRUSTED_PROXIES = ["10.210.0.0/29"]
    settings.RATE_LIMIT_LOGIN = "2/m"
    upstream.reply("POST", "/api/auth/login", body=TOKENS)
    proxy = Gateway(client_address=PROXY)

    # when: two clients through the same proxy; the first also claims made-up addresses of its own
    first = [_login(proxy, f"192.0.2.{n}, 198.51.100.1", n) for n in range(3)]
    second = _login(proxy, "198.51.100.2", 9)

    # then
    assert first == [200, 200, 429]
    assert second == 200


def test_only_a_trusted_proxy_may_say_the_request_was_https(settings: Any) -> None:
    # given
    settings.TRUSTED_PROXIES = ["10.210.0.0/29"]
    headers = [(b"x-forwarded-proto", b"https"), (b"x-forwarded-for", b"198.51.100.1"), (b"accept", b"*/*")]
    direct: dict[str, Any] = {"type": "http", "client": ("203.0.113.7", 4000), "headers": list(headers)}
    proxied: dict[str, Any] = {"type": "http", "client": PROXY, "headers": list(headers)}

    # when
    edge_headers(direct)
    edge_headers(proxied)

    # then: X-Forwarded-For is consumed either way; only the proxy's X-Forwarded-Proto is kept
    assert (direct["client"], direct["headers"]) == (("203.0.113.7", 4000), [(b"accept", b"*/*")])
    assert (proxied["client"], proxied["headers"]) == (
        ("198.51.100.1", 0),
        [(b"x-forwarded-proto", b"https"), (b"accept", b"*/*")],
    )


def test_client_address_walks_forwarded_for_only_through_trusted_hops() -> None:
    # given
    proxies = parse_networks(("10.210.0.0/29", "fd00:10::1"))

    # when
    answers = {
        "untrusted peer": client_address("203.0.113.7", ["198.51.100.1"], proxies),
        "one proxy": client_address("10.210.0.2", ["198.51.100.1"], proxies),
        "spoofed prefix": client_address("10.210.0.2", ["6.6.6.6, 198.51.100.1"], proxies),
        "two proxies": client_address("10.210.0.2", ["198.51.100.1, 10.210.0.3"], proxies),
        "two headers": client_address("10.210.0.2", ["6.6.6.6", "198.51.100.1"], proxies),
        "ipv6 proxy": client_address("fd00:10::1", ["2001:db8::5"], proxies),
        "garbage hop": client_address("10.210.0.2", ["not-an-address"], proxies),
        "only proxies": client_address("10.210.0.2", ["10.210.0.3"], proxies),
    }

    # then
    assert answers == {
        "untrusted peer": "203.0.113.7",
        "one proxy": "198.51.100.1",
        "spoofed prefix": "198.51.100.1",
        "two proxies": "198.51.100.1",
        "two headers": "198.51.100.1",
        "ipv6 proxy": "2001:db8::5",
        "garbage hop": "10.210.0.2",
        "only proxies": "10.210.0.3",
    }


# -- the gateway process exactly as `make run` starts it ---------------------------------------------
@pytest.fixture
def make_run_gateway(upstream: StubUpstream, tmp_path: Path) -> Iterator[str]:
    """uvicorn with `make run`'s command line (tools/shoprun.py), on a free port, in front of the stub."""
    port = free_port()
    # The child process inherits the test environment; Kafka set so that no embedded broker is planned.
    environ = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", "SHOP_GATEWAY_PORT": str(port)}  # noqa: TID251
    [gateway] = [p for p in Stack(environ=environ, stream=False, var_dir=tmp_path).plan() if p.name == "gateway"]
    argv = gateway.argv
    env = child_env(
        {
            **gateway.env,
            "KAFKA_BOOTSTRAP_SERVERS": environ["KAFKA_BOOTSTRAP_SERVERS"],
            "SHOP_GATEWAY_PORT": str(port),
            "USERS_URL": upstream.url,
            "RATE_LIMIT_LOGIN": "2/m",
            "CACHE_URL": "locmem://",
            "LOG_FORMAT": "json",
            "TRUSTED_PROXIES": None,
            "FORWARDED_ALLOW_IPS": None,
        }
    )
    with running_server(argv, env=env, port=port, tmp_path=tmp_path) as run:
        yield run.base_url


def test_make_run_gateway_ignores_forwarded_for_from_direct_clients(
    make_run_gateway: str, upstream: StubUpstream
) -> None:
    # given
    upstream.reply("POST", "/api/auth/login", body=TOKENS)

    # when: a local client (uvicorn's own default would trust 127.0.0.1) rotates X-Forwarded-For
    with httpx.Client(base_url=make_run_gateway, timeout=10) as client:
        answers = [
            client.post(
                "/api/auth/login",
                json={"email": f"user{n}@example.com", "password": "pw"},
                headers={"X-Forwarded-For": f"198.51.100.{n}"},
            )
            for n in range(3)
        ]

    # then
    assert [a.status_code for a in answers[:2]] == [200, 200]
    assert_problem(answers[2], 429)
    assert len(upstream.calls("POST", "/api/auth/login")) == 2


def test_a_malformed_trusted_proxy_stops_the_gateway_at_start() -> None:
    # given
    env = child_env(DJANGO_SETTINGS_MODULE="gateway_svc.settings", TRUSTED_PROXIES="10.210.0.0/29,caddy")

    # when
    result = run_python(["-c", "import django; django.setup()"], env=env, timeout=60)

    # then
    assert result.returncode == 1
    assert "ValueError: 'caddy' does not appear to be an IPv4 or IPv6 network" in result.stderr
