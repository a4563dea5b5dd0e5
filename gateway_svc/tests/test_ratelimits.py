"""Rate limits: tight on sign-in and checkout, a general per-client limit, 429 with Retry-After, fail open."""

from __future__ import annotations

import uuid
from typing import Any

from prometheus_client import REGISTRY

from gateway_svc.tests.conftest import Gateway
from gateway_svc.tests.stubs import StubUpstream, free_port_url
from shopkit.testing.problems import assert_problem

TOKENS = {"access": "a", "refresh": "r", "token_type": "Bearer", "expires_in": 300}


def _limited(scope: str) -> float:
    return REGISTRY.get_sample_value("shop_gateway_rate_limited_total", {"scope": scope}) or 0.0


def test_login_over_the_per_address_limit_is_429_with_retry_after(
    gateway: Gateway, upstream: StubUpstream, settings: Any
) -> None:
    # given
    settings.RATE_LIMIT_LOGIN = "2/m"
    upstream.reply("POST", "/api/auth/login", body=TOKENS)
    before = _limited("login")

    # when: three different accounts from one address
    answers = [
        gateway.post("/api/auth/login", json={"email": f"user{n}@example.com", "password": "pw"}) for n in range(3)
    ]

    # then
    assert [a.status_code for a in answers[:2]] == [200, 200]
    assert assert_problem(answers[2], 429)["type"] == "https://shop.example/problems/rate-limited"
    assert 1 <= int(answers[2].headers["retry-after"]) <= 60
    assert len(upstream.calls("POST", "/api/auth/login")) == 2
    assert _limited("login") == before + 1


def test_login_per_account_limit_holds_across_addresses(upstream: StubUpstream, settings: Any) -> None:
    # given
    settings.RATE_LIMIT_LOGIN_ACCOUNT = "2/m"
    upstream.reply("POST", "/api/auth/login", body=TOKENS)
    clients = [Gateway(client_address=(f"198.51.100.{n}", 1000)) for n in range(3)]

    # when: one account from three addresses (the e-mail's case does not matter)
    answers = [
        client.post("/api/auth/login", json={"email": email, "password": "pw"})
        for client, email in zip(clients, ["ada@example.com", "ADA@example.com", "ada@example.com"], strict=True)
    ]

    # then
    assert [a.status_code for a in answers] == [200, 200, 429]


def test_register_and_refresh_have_their_own_limits(gateway: Gateway, upstream: StubUpstream, settings: Any) -> None:
    # given
    settings.RATE_LIMIT_REGISTER = "1/m"
    settings.RATE_LIMIT_REFRESH = "1/m"
    upstream.reply("POST", "/api/auth/register", status=201, body={})
    upstream.reply("POST", "/api/auth/refresh", body=TOKENS)
    body = {"email": "ada@example.com", "password": "long-enough-1"}

    # when
    registers = [gateway.post("/api/auth/register", json=body) for _ in range(2)]
    refreshes = [gateway.post("/api/auth/refresh", json={"refresh": "r"}) for _ in range(2)]

    # then
    assert [r.status_code for r in registers] == [201, 429]
    assert [r.status_code for r in refreshes] == [200, 429]


def test_checkout_limit_is_per_user(gateway: Gateway, upstream: StubUpstream, settings: Any, make_token: Any) -> None:
    # given
    settings.RATE_LIMIT_CHECKOUT = "1/m"
    upstream.reply("POST", "/api/orders", status=201, body={})
    alice, bob = ({"Authorization": f"Bearer {make_token(uuid.uuid4())}", "Idempotency-Key": "k"} for _ in range(2))

    # when
    answers = [gateway.post("/api/orders", headers=h) for h in (alice, alice, bob)]

    # then
    assert [a.status_code for a in answers] == [201, 429, 201]


def test_general_limit_applies_per_client(upstream: StubUpstream, settings: Any) -> None:
    # given
    settings.RATE_LIMIT_DEFAULT = "2/m"
    upstream.reply("GET", "/api/categories", body={"items": [], "count": 0})
    first, second = Gateway(client_address=("192.0.2.1", 1)), Gateway(client_address=("192.0.2.2", 1))

    # when
    answers = [first.get("/api/categories") for _ in range(3)] + [second.get("/api/categories")]

    # then
    assert [a.status_code for a in answers] == [200, 200, 429, 200]


def test_limits_can_be_switched_off(gateway: Gateway, upstream: StubUpstream, settings: Any) -> None:
    # given
    settings.RATE_LIMIT_ENABLED = False
    settings.RATE_LIMIT_LOGIN = "1/m"
    upstream.reply("POST", "/api/auth/login", body=TOKENS)

    # when
    answers = [gateway.post("/api/auth/login", json={"email": "a@example.com", "password": "pw"}) for _ in range(3)]

    # then
    assert [a.status_code for a in answers] == [200, 200, 200]


def test_cache_down_fails_open(gateway: Gateway, upstream: StubUpstream, settings: Any) -> None:
    # given: the rate-limit counters' Redis is unreachable
    dead_redis = free_port_url().replace("http://", "redis://")
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"{dead_redis}/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2, "IGNORE_EXCEPTIONS": True},
        }
    }
    settings.RATE_LIMIT_LOGIN = "1/m"
    upstream.reply("POST", "/api/auth/login", body=TOKENS)

    # when
    answers = [gateway.post("/api/auth/login", json={"email": "a@example.com", "password": "pw"}) for _ in range(2)]

    # then: served, not limited and not a 500
    assert [a.status_code for a in answers] == [200, 200]
