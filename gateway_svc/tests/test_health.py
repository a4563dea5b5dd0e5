"""`GET /api/health`: says only whether the shop is up, fans out at most once at a time, is rate limited."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import httpx
from asgiref.sync import async_to_sync
from prometheus_client import REGISTRY

from gateway_svc import upstream as upstream_module
from gateway_svc.asgi import application
from gateway_svc.tests.conftest import Gateway
from gateway_svc.tests.stubs import StubUpstream, free_port_url
from shopkit.testing.problems import assert_problem

DOWNSTREAMS = 4  # users, products, orders, carts: one /health/ready probe each per fan-out


def test_public_health_says_only_that_the_shop_is_up(gateway: Gateway, upstream: StubUpstream) -> None:
    # given
    upstream.reply("GET", "/health/ready", body={"status": "ok"})

    # when
    response = gateway.get("/api/health")

    # then
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_public_health_is_a_503_problem_that_names_no_dependency(
    gateway: Gateway, upstream: StubUpstream, settings: Any
) -> None:
    # given
    upstream.reply("GET", "/health/ready", body={"status": "ok"})
    settings.ORDERS_URL = free_port_url()

    # when
    response = gateway.get("/api/health")

    # then
    body = assert_problem(response, 503)
    assert body == {
        "type": "https://shop.example/problems/shop-unavailable",
        "title": "Service Unavailable",
        "status": 503,
        "detail": "The shop is unavailable; try again shortly.",
        "trace_id": response.headers["x-trace-id"],
    }
    assert response.headers["retry-after"] == "5"


def test_health_result_is_reused_while_fresh_and_checked_again_when_stale(
    gateway: Gateway, upstream: StubUpstream, settings: Any
) -> None:
    # given
    upstream.reply("GET", "/health/ready", body={"status": "ok"})
    settings.HEALTH_CACHE_SECONDS = 60.0

    # when: five asks within the result's lifetime, then one after it has gone stale
    fresh = [gateway.get("/api/health").status_code for _ in range(5)]
    probes_while_fresh = len(upstream.calls("GET", "/health/ready"))
    settings.HEALTH_CACHE_SECONDS = 0.0
    stale = gateway.get("/api/health").status_code

    # then
    assert fresh == [200] * 5
    assert probes_while_fresh == DOWNSTREAMS
    assert stale == 200
    assert len(upstream.calls("GET", "/health/ready")) == 2 * DOWNSTREAMS


def _requests_begun() -> float:
    return REGISTRY.get_sample_value("django_http_requests_before_middlewares_total") or 0.0


def test_concurrent_health_checks_share_one_fan_out(upstream: StubUpstream, settings: Any) -> None:
    # given: the downstreams answer only when released, which happens once all ten asks have arrived
    settings.HEALTH_CACHE_SECONDS = 60.0
    settings.UPSTREAM_HEALTH_TIMEOUT_SECONDS = 10.0
    upstream.reply("GET", "/health/ready", body={"status": "ok"}, delay=10.0)
    begun = _requests_begun()

    def release_when_all_have_asked() -> None:
        deadline = time.monotonic() + 10
        while _requests_begun() < begun + 10 and time.monotonic() < deadline:
            time.sleep(0.01)
        while len(upstream.calls("GET", "/health/ready")) < DOWNSTREAMS and time.monotonic() < deadline:
            time.sleep(0.01)
        upstream.release.set()

    async def ten_at_once() -> list[int]:
        transport = httpx.ASGITransport(app=application, client=("203.0.113.9", 40000))
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                answers = await asyncio.gather(*(client.get("/api/health") for _ in range(10)))
                return [answer.status_code for answer in answers]
        finally:
            await upstream_module.close_client()

    watcher = threading.Thread(target=release_when_all_have_asked, daemon=True)
    watcher.start()

    # when
    statuses = async_to_sync(ten_at_once)()
    watcher.join(timeout=30)

    # then
    assert statuses == [200] * 10
    assert len(upstream.calls("GET", "/health/ready")) == DOWNSTREAMS


def test_public_health_is_rate_limited_per_address(gateway: Gateway, upstream: StubUpstream, settings: Any) -> None:
    # given
    settings.RATE_LIMIT_HEALTH = "2/m"
    upstream.reply("GET", "/health/ready", body={"status": "ok"})
    other = Gateway(client_address=("198.51.100.20", 5000))

    # when
    answers = [gateway.get("/api/health") for _ in range(3)]
    elsewhere = other.get("/api/health")

    # then
    assert [a.status_code for a in answers[:2]] == [200, 200]
    assert assert_problem(answers[2], 429)["type"] == "https://shop.example/problems/rate-limited"
    assert elsewhere.status_code == 200
