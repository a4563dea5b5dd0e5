"""Calls to the downstream services: one pooled client per event loop, timeouts, GET retries, circuit breakers.

Every failure becomes a gateway error (503 unavailable or circuit open, 504 timeout) so the caller gets a
fast problem response; downstream problem responses pass through with the gateway's trace id. The request is
validated and encoded before the circuit breaker sees it, and the breaker counts only what the upstream did,
so nothing a caller sends can open a circuit for everyone else.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import json
import math
import re
import ssl
import time
import weakref
from collections.abc import Mapping
from typing import Any, TypedDict, Unpack

import httpx
import pybreaker
import stamina
import structlog
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from gateway_svc import metrics
from gateway_svc.edge import REQUEST_ID
from gateway_svc.errors import GatewayErrorCode, InvalidHeader, UpstreamTimeout, UpstreamUnavailable
from shopkit.logging import get_logger
from shopkit.problems import PROBLEM_CONTENT_TYPE
from shopkit.tracing import current_trace_id

log = get_logger(__name__)


class Upstream(enum.StrEnum):
    USERS = "users"
    PRODUCTS = "products"
    ORDERS = "orders"
    CARTS = "carts"


_BASE_URL_SETTINGS = {
    Upstream.USERS: "USERS_URL",
    Upstream.PRODUCTS: "PRODUCTS_URL",
    Upstream.ORDERS: "ORDERS_URL",
    Upstream.CARTS: "CARTS_URL",
}
metrics.initialize([u.value for u in Upstream])

# What the caller sends that every downstream call needs (traceparent is added by the httpx instrumentation,
# from the trace context it parsed; a route adds its own, such as checkout's Idempotency-Key).
_FORWARDED_REQUEST_HEADERS = ("Authorization",)
# What can be sent on as it came: visible ASCII and spaces (every token scheme fits), bounded.
_FORWARDABLE_VALUE = re.compile(r"[\x20-\x7e]{1,8192}")
_FORWARDED_RESPONSE_HEADERS = ("Retry-After", "WWW-Authenticate")


class CallOptions(TypedDict, total=False):
    """What a route adds to a downstream call: query parameters, a JSON body, its own headers."""

    params: Mapping[str, str] | None
    json_body: Any
    headers: Mapping[str, str] | None


def base_url(upstream: Upstream) -> str:
    url: str = getattr(settings, _BASE_URL_SETTINGS[upstream])
    return url.rstrip("/")


def _timeout(read: float | None = None) -> httpx.Timeout:
    connect = settings.UPSTREAM_CONNECT_TIMEOUT_SECONDS
    read = settings.UPSTREAM_TIMEOUT_SECONDS if read is None else read
    return httpx.Timeout(connect=connect, read=read, write=read, pool=connect)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Loading CA certificates costs a few hundred milliseconds: once per process, not once per pool.
    return ssl.create_default_context()


# httpx pools are bound to the event loop that created them: uvicorn runs one loop per process, tests
# (async_to_sync) one per call, so the pool is kept per loop and dropped with it.
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = weakref.WeakKeyDictionary()


def client() -> httpx.AsyncClient:
    """The shared client of the running event loop, created on first use."""
    loop = asyncio.get_running_loop()
    shared = _clients.get(loop)
    if shared is None or shared.is_closed:
        shared = httpx.AsyncClient(
            timeout=_timeout(),
            limits=httpx.Limits(
                max_connections=settings.UPSTREAM_MAX_CONNECTIONS,
                max_keepalive_connections=settings.UPSTREAM_MAX_KEEPALIVE,
            ),
            follow_redirects=False,
            trust_env=False,
            verify=_tls_context(),
        )
        _clients[loop] = shared
    return shared


async def close_client() -> None:
    """Close the running loop's pool (ASGI lifespan shutdown)."""
    shared = _clients.pop(asyncio.get_running_loop(), None)
    if shared is not None:
        await shared.aclose()


class _BreakerLog(pybreaker.CircuitBreakerListener):
    def state_change(
        self, cb: pybreaker.CircuitBreaker, old_state: pybreaker.CircuitBreakerState | None, new_state: Any
    ) -> None:
        log.warning(
            "upstream_circuit_changed",
            upstream=cb.name,
            old_state=old_state.name if old_state else None,
            new_state=new_state.name,
        )


class _BrokenResponse(Exception):
    """A 5xx that is not a problem document: the upstream (or a proxy in front of it) is broken."""

    def __init__(self, status: int) -> None:
        super().__init__(f"upstream answered {status} without a problem document")
        self.status = status


# What only the upstream can cause: no connection, no answer in time, a broken exchange or a broken 5xx.
# Anything else raised while forwarding (a caller hanging up, an error in the gateway's own handling)
# says nothing about the upstream's health and must not open its circuit.
_UPSTREAM_FAILURES = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    httpx.DecodingError,
    _BrokenResponse,
)


def _not_the_upstreams_fault(exc: BaseException) -> bool:
    return not isinstance(exc, _UPSTREAM_FAILURES)


_breakers: dict[Upstream, pybreaker.CircuitBreaker] = {}


def breaker(upstream: Upstream) -> pybreaker.CircuitBreaker:
    """The upstream's circuit breaker. pybreaker's `calling()` holds its lock only around state changes,
    never across the awaited call, so it is safe on one event loop."""
    found = _breakers.get(upstream)
    if found is None:
        found = pybreaker.CircuitBreaker(
            fail_max=settings.CIRCUIT_FAIL_MAX,
            reset_timeout=settings.CIRCUIT_RESET_SECONDS,
            exclude=[_not_the_upstreams_fault],
            listeners=[_BreakerLog()],
            name=upstream.value,
            throw_new_error_on_trip=False,
        )
        _breakers[upstream] = found
    return found


def reset_breakers() -> None:
    """Forget every breaker (settings changed, or a test starts afresh)."""
    _breakers.clear()


def _is_problem(response: httpx.Response) -> bool:
    content_type: str = response.headers.get("content-type", "")
    return content_type.startswith(PROBLEM_CONTENT_TYPE)


def _request_headers(request: HttpRequest, extra: Mapping[str, str] | None) -> dict[str, str]:
    """The headers sent on; a caller's value that cannot be is a 400 problem for that caller alone."""
    headers = {"Accept": "application/json"}
    for name in _FORWARDED_REQUEST_HEADERS:
        if value := request.headers.get(name):
            if not _FORWARDABLE_VALUE.fullmatch(value):
                raise InvalidHeader(
                    f"The {name} header is not valid.", code=GatewayErrorCode.INVALID_HEADER, extra={"header": name}
                )
            headers[name] = value
    headers.update(extra or {})
    # The caller's id when it is sane (gateway_svc/edge.py drops any other), else the gateway's own.
    request_id = request.headers.get("X-Request-ID") or structlog.contextvars.get_contextvars().get("request_id")
    if request_id and REQUEST_ID.fullmatch(str(request_id)):
        headers["X-Request-ID"] = str(request_id)
    return headers


async def _send(outgoing: httpx.Request) -> httpx.Response:
    if outgoing.method != "GET":
        # Writes are sent once: a retry after a lost answer could apply them twice.
        return await client().send(outgoing)
    async for attempt in stamina.retry_context(
        on=httpx.ConnectError,
        attempts=settings.UPSTREAM_GET_ATTEMPTS,
        timeout=settings.UPSTREAM_TIMEOUT_SECONDS,
        wait_initial=0.05,
        wait_max=0.25,
        wait_jitter=0.05,
    ):
        with attempt:
            return await client().send(outgoing)
    raise AssertionError("stamina ran no attempt")  # pragma: no cover - attempts >= 1


async def call(
    request: HttpRequest, upstream: Upstream, method: str, path: str, **options: Unpack[CallOptions]
) -> httpx.Response:
    """One call through the upstream's circuit breaker; raises a gateway error instead of failing slowly."""
    # Built (headers checked, body encoded) before the breaker: a request that cannot be sent is the
    # caller's problem or the gateway's, never a failure of the upstream.
    outgoing = client().build_request(
        method,
        f"{base_url(upstream)}{path}",
        headers=_request_headers(request, options.get("headers")),
        params=options.get("params"),
        json=options.get("json_body"),
    )
    outcome: str | None = None
    started = time.perf_counter()
    circuit = breaker(upstream)
    try:
        with circuit.calling():
            response = await _send(outgoing)
            if response.status_code >= 500 and not _is_problem(response):
                raise _BrokenResponse(response.status_code)
        outcome = "ok"
        return response
    except pybreaker.CircuitBreakerError as exc:
        outcome = "circuit_open"
        retry_after = str(max(1, math.ceil(circuit.reset_timeout)))
        raise UpstreamUnavailable(
            f"The {upstream} service is unavailable; try again shortly.",
            code=GatewayErrorCode.CIRCUIT_OPEN,
            headers={"Retry-After": retry_after},
        ) from exc
    except _BrokenResponse as exc:
        outcome = "error"
        log.warning("upstream_broken_response", upstream=upstream.value, path=path, status=exc.status)
        raise _unavailable(upstream) from exc
    except (httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ConnectError) as exc:
        outcome = "unavailable"
        log.warning("upstream_unavailable", upstream=upstream.value, path=path, error=type(exc).__name__)
        raise _unavailable(upstream) from exc
    except httpx.TimeoutException as exc:
        outcome = "timeout"
        log.warning("upstream_timeout", upstream=upstream.value, path=path, error=type(exc).__name__)
        raise UpstreamTimeout(
            f"The {upstream} service did not answer in time.", code=GatewayErrorCode.UPSTREAM_TIMEOUT
        ) from exc
    except (httpx.NetworkError, httpx.RemoteProtocolError, httpx.DecodingError) as exc:
        # The connection broke mid-exchange (closed without an answer, the upstream broke the protocol or
        # sent a body its own Content-Encoding does not describe).
        outcome = "error"
        log.warning("upstream_transport_error", upstream=upstream.value, path=path, error=type(exc).__name__)
        raise _unavailable(upstream) from exc
    finally:
        # Only outcomes of the upstream are its metrics (anything else propagates as the gateway's own error).
        if outcome is not None:
            metrics.UPSTREAM_REQUESTS.labels(upstream=upstream.value, outcome=outcome).inc()
        if outcome not in {None, "circuit_open"}:
            metrics.UPSTREAM_DURATION.labels(upstream=upstream.value).observe(time.perf_counter() - started)


def _unavailable(upstream: Upstream) -> UpstreamUnavailable:
    return UpstreamUnavailable(
        f"The {upstream} service is unavailable; try again shortly.",
        code=GatewayErrorCode.UPSTREAM_UNAVAILABLE,
        headers={"Retry-After": "1"},
    )


def to_django(response: httpx.Response) -> HttpResponse:
    """The upstream's answer as the gateway's: bytes unchanged, except a problem gets the gateway's trace id."""
    if response.status_code == 204:
        empty = HttpResponse(status=204)
        del empty["Content-Type"]
        return empty
    content = response.content
    content_type = response.headers.get("content-type", "application/json")
    if _is_problem(response):
        try:
            body = json.loads(content)
        except ValueError:
            body = None
        if isinstance(body, dict):
            body["trace_id"] = current_trace_id()
            content = json.dumps(body).encode()
    converted = HttpResponse(content, status=response.status_code, content_type=content_type)
    for name in _FORWARDED_RESPONSE_HEADERS:
        if value := response.headers.get(name):
            converted[name] = value
    return converted


async def probe(upstream: Upstream) -> str:
    """The upstream's readiness in a word, bypassing the breaker so health shows the real state."""
    timeout = settings.UPSTREAM_HEALTH_TIMEOUT_SECONDS
    try:
        response = await client().get(
            f"{base_url(upstream)}/health/ready", timeout=httpx.Timeout(timeout, connect=timeout)
        )
    except httpx.TimeoutException:
        return "timeout"
    except httpx.TransportError:
        return "unavailable"
    return "ok" if response.status_code == 200 else f"error: {response.status_code}"
