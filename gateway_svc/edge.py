"""What the gateway believes of a caller's headers, decided once at the edge: the client address and the request id.

`X-Forwarded-For` counts only when the connection comes from one of `TRUSTED_PROXIES` (Caddy in the full
stack, nobody in `make run`); otherwise anyone could pick a new address per request and walk past every
per-address rate limit. A request id the gateway cannot log and forward as it is gets replaced by a fresh one.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from django.conf import settings

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Request ids are UUIDs or similar tokens: short, ASCII, no separators that would blur a log line.
REQUEST_ID = re.compile(r"[A-Za-z0-9._:+/=@-]{1,128}")

# Headers only a proxy may set: from anyone else they are dropped before Django, ipware or the
# SECURE_PROXY_SSL_HEADER check read them. X-Forwarded-For is consumed here and dropped for everyone.
_PROXY_HEADERS = frozenset({b"x-forwarded-proto", b"x-forwarded-host", b"x-forwarded-port", b"forwarded"})
_FORWARDED_FOR = b"x-forwarded-for"
_REQUEST_ID_HEADER = b"x-request-id"


@functools.cache
def parse_networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(proxy.strip(), strict=False) for proxy in proxies if proxy.strip())


def trusted_networks() -> tuple[Network, ...]:
    """`TRUSTED_PROXIES` (addresses or CIDRs) parsed; a malformed entry fails loudly, at the first request."""
    return parse_networks(tuple(settings.TRUSTED_PROXIES))


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _is_trusted(value: str, networks: tuple[Network, ...]) -> bool:
    address = _address(value)
    return address is not None and any(address in network for network in networks)


def client_address(peer: str, forwarded_for: Iterable[str], networks: tuple[Network, ...]) -> str:
    """The client behind trusted proxies: each proxy appends the address it saw, so walk X-Forwarded-For from
    the right while the hop that reported it is trusted; the first address no trusted proxy vouches for wins.
    A hop that is not an address stops the walk at the proxy that sent it."""
    client = peer
    for hop in reversed([hop.strip() for value in forwarded_for for hop in value.split(",")]):
        if not _is_trusted(client, networks) or _address(hop) is None:
            break
        client = hop
    return client


def edge_headers(scope: Scope) -> None:
    """Sets `scope["client"]` to the client's address and keeps only the headers the gateway may believe."""
    peer = scope.get("client") or ("", 0)
    networks = trusted_networks()
    from_proxy = _is_trusted(peer[0], networks)
    headers: list[tuple[bytes, bytes]] = []
    forwarded_for: list[str] = []
    for name, value in scope.get("headers", []):
        if name == _FORWARDED_FOR:
            forwarded_for.append(value.decode("latin-1"))
            continue
        if name in _PROXY_HEADERS and not from_proxy:
            continue
        if name == _REQUEST_ID_HEADER and not REQUEST_ID.fullmatch(value.decode("latin-1")):
            continue  # no header: django-structlog makes a fresh id, which is logged and forwarded
        headers.append((name, value))
    scope["headers"] = headers
    if from_proxy and forwarded_for:
        client = client_address(peer[0], forwarded_for, networks)
        if client != peer[0]:
            scope["client"] = (client, 0)


class EdgeHeaders:
    """The outermost ASGI layer of the gateway (before tracing and Django): see `edge_headers`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope = dict(scope)
            edge_headers(scope)
        await self.app(scope, receive, send)
