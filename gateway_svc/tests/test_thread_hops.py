"""Thread hops per request: the gateway's shortcuts through Django internals (gateway_svc/apps.py) stay in place."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from asgiref.sync import SyncToAsync
from django.core import signals
from django.core.cache import close_caches
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.asgi import ASGIHandler
from django.db import close_old_connections, reset_queries

from gateway_svc import upstream as upstream_module
from gateway_svc.apps import WRITTEN_FOR, check_written_for
from gateway_svc.asgi import application
from gateway_svc.edge import EdgeHeaders
from gateway_svc.middleware import GatewayASGI
from gateway_svc.ratelimits import _counts_in_process_memory
from gateway_svc.tests.stubs import StubUpstream, product_body
from shopkit.tracing import wrap_asgi

PRODUCT = str(uuid.uuid4())
CART = {"lines": [], "total": "0.00", "currency": "USD"}
# What Django's own classes are, where the gateway runs their hooks inline (settings.MIDDLEWARE).
STOCK_MIDDLEWARE = {
    "gateway_svc.inline_middleware.PrometheusBeforeMiddleware": (
        "django_prometheus.middleware.PrometheusBeforeMiddleware"
    ),
    "gateway_svc.inline_middleware.SecurityMiddleware": "django.middleware.security.SecurityMiddleware",
    "gateway_svc.inline_middleware.CommonMiddleware": "django.middleware.common.CommonMiddleware",
    "gateway_svc.inline_middleware.XFrameOptionsMiddleware": "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "gateway_svc.inline_middleware.RequestLogMiddleware": "shopkit.middleware.RequestLogMiddleware",
    "gateway_svc.inline_middleware.PrometheusAfterMiddleware": "shopkit.metrics.PrometheusAfterMiddleware",
}
_RECEIVERS = [
    (signals.request_started, reset_queries),
    (signals.request_started, close_old_connections),
    (signals.request_finished, close_old_connections),
    (signals.request_finished, close_caches),
]


@dataclass(frozen=True)
class Hop:
    call: str
    thread_sensitive: bool
    # Run on a thread made for this request (Django's ThreadSensitiveContext), not asgiref's shared one.
    request_thread: bool = False


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[Hop]:
    """Every `sync_to_async` call from here on: asgiref's own, counted and then run as it would be."""
    seen: list[Hop] = []
    run = SyncToAsync.__call__

    async def counted(self: SyncToAsync[Any, Any], *args: Any, **kwargs: Any) -> Any:
        in_context = self._thread_sensitive and SyncToAsync.thread_sensitive_context.get(None) is not None
        seen.append(Hop(getattr(self.func, "__qualname__", repr(self.func)), self._thread_sensitive, in_context))
        return await run(self, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "__call__", counted)
    return seen


def _get(app: Any, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    """One request on a fresh event loop in this thread, as uvicorn runs one (no `async_to_sync` around it,
    whose own executor would take every thread-sensitive call and hide where it would have run)."""

    async def request() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                return await client.get(path, headers=headers)
        finally:
            await upstream_module.close_client()

    return asyncio.run(request())


def _off_the_loop_by_design() -> list[Hop]:
    # Rate-limit counters in Redis are blocking socket I/O: one deliberate hop to the thread pool.
    return [] if _counts_in_process_memory() else [Hop("_usage", False)]


@pytest.fixture
def stock_django(settings: Any) -> Iterator[Any]:
    """The same gateway on Django's own request cycle: its ASGI handler, middleware classes and receivers."""
    settings.MIDDLEWARE = [STOCK_MIDDLEWARE.get(path, path) for path in settings.MIDDLEWARE]
    for signal, receiver in _RECEIVERS:
        signal.connect(receiver)
    try:
        yield EdgeHeaders(wrap_asgi(GatewayASGI(ASGIHandler())))
    finally:
        for signal, receiver in _RECEIVERS:
            signal.disconnect(receiver)


@pytest.mark.parametrize("path", [f"/api/products/{PRODUCT}", "/api/cart"])
def test_a_proxied_request_leaves_the_event_loop_only_to_close_the_response(
    upstream: StubUpstream, hops: list[Hop], customer_auth: dict[str, str], path: str
) -> None:
    # given
    upstream.reply("GET", f"/api/products/{PRODUCT}", body=product_body(PRODUCT))
    upstream.reply("GET", "/api/cart", body=CART)

    # when
    response = _get(application, path, headers=customer_auth)

    # then: Django closing the response (on asgiref's one shared thread, no per-request thread) and nothing else
    assert response.status_code == 200
    assert sorted(hops, key=str) == sorted([Hop("HttpResponseBase.close", True), *_off_the_loop_by_design()], key=str)


def test_the_hop_count_sees_what_django_own_request_cycle_costs(
    upstream: StubUpstream, hops: list[Hop], stock_django: Any
) -> None:
    # given
    upstream.reply("GET", f"/api/products/{PRODUCT}", body=product_body(PRODUCT))

    # when
    response = _get(stock_django, f"/api/products/{PRODUCT}")

    # then: every synchronous hook and receiver is a hop to a thread made for the request (the test above
    # would see any one of them return)
    assert response.status_code == 200
    sensitive = sorted(hop.call for hop in hops if hop.thread_sensitive)
    assert all(hop.request_thread for hop in hops if hop.thread_sensitive)
    assert sensitive == [
        "CommonMiddleware.process_request",
        "CommonMiddleware.process_response",
        "HttpResponseBase.close",
        "PrometheusAfterMiddleware.process_request",
        "PrometheusAfterMiddleware.process_response",
        "PrometheusAfterMiddleware.process_view",
        "PrometheusBeforeMiddleware.process_request",
        "PrometheusBeforeMiddleware.process_response",
        "RequestLogMiddleware.handle_response",
        "RequestMiddleware.prepare",
        "SecurityMiddleware.process_request",
        "SecurityMiddleware.process_response",
        "Signal.asend.<locals>.sync_send",  # the request signal's synchronous receivers, in one hop
        "XFrameOptionsMiddleware.process_response",
    ]


def test_the_installed_releases_are_the_ones_the_shortcuts_were_written_for() -> None:
    # given
    written_for = {package: f"{release}.3" for package, release in WRITTEN_FOR.items()}

    # when / then: a patch release passes (as the installed ones did at start), another release stops the gateway
    check_written_for(written_for)
    with pytest.raises(ImproperlyConfigured, match=r"django 5\.2\.x, and 5\.20\.1 is installed"):
        check_written_for({**written_for, "django": "5.20.1"})
    with pytest.raises(ImproperlyConfigured, match=r"django-structlog 11\.x, and 10\.1\.0 is installed"):
        check_written_for({**written_for, "django-structlog": "10.1.0"})
