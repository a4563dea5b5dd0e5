"""A signing-key rotation on the running shop: customers stay signed in, and the dropped key stops verifying.

The operator's steps of docs/security.md: `jwt_keygen --rotate`, a graceful reload of users (gunicorn's
SIGHUP: new workers read the key files), then `jwt_keygen --drop-previous` and another reload. Every
verifier (gateway, users, carts, orders) is a real process reading the users service's JWKS, with a
short cache lifetime (JWT_JWKS_CACHE_SECONDS in conftest) so the test does not wait five minutes.
"""

from __future__ import annotations

import functools
import os
import signal
from collections.abc import Callable
from pathlib import Path

import httpx
import jwt

from shopkit.testing.polling import poll
from shopkit.testing.problems import assert_problem
from tests.e2e.conftest import PORTS, Customer, Shop

# Every wait here: the shared poll with this file's deadline (a call may give its own).
_poll = functools.partial(poll, seconds=30.0, interval=0.1)

USERS_JWKS = f"{PORTS.url('users')}/api/.well-known/jwks.json"
USERS_READY = f"{PORTS.url('users')}/health/ready"
# Routes whose responses need a token verified by the gateway and by one service each.
ROUTES = ("/api/users/me", "/api/cart", "/api/orders")


def _kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def _status(url: str) -> int:
    try:
        return httpx.get(url, timeout=5.0).status_code
    except httpx.HTTPError:
        return 0


def _served_kids() -> list[str]:
    try:
        return [key["kid"] for key in httpx.get(USERS_JWKS, timeout=5.0).json()["keys"]]
    except httpx.HTTPError:
        return []


def _workers(master: int) -> set[int]:
    children: set[int] = set()
    for task in Path(f"/proc/{master}/task").glob("*/children"):
        children.update(int(pid) for pid in task.read_text().split())
    return children


def _reload_users(shop: Shop) -> None:
    """gunicorn's graceful reload: new workers read the key files; the old ones finish their requests, then exit."""
    users = next(p for p in shop.stack.processes if p.name == "users")
    assert users.popen is not None
    master = users.popen.pid
    old = _workers(master)
    os.kill(master, signal.SIGHUP)
    workers = _poll(lambda: _workers(master), lambda now: bool(now) and not now & old)
    assert workers, "users has no workers after the reload"
    assert not workers & old, f"users workers {old} were not replaced: {workers}"
    ready = _poll(lambda: _status(USERS_READY), lambda status: status == 200)
    assert ready == 200


def _statuses(api: httpx.Client, access: str) -> list[int]:
    return [api.get(route, headers={"Authorization": f"Bearer {access}"}).status_code for route in ROUTES]


def _login(api: httpx.Client, customer: Customer) -> dict[str, str]:
    response = api.post("/api/auth/login", json={"email": customer.email, "password": customer.password})
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


def test_a_key_rotation_keeps_customers_signed_in_and_the_dropped_key_stops_verifying_everywhere(
    shop: Shop, api: httpx.Client, new_customer: Callable[[], Customer]
) -> None:
    # given: a customer signed in with the key users signs with now, known to every verifier
    customer = new_customer()
    old_kid = _kid(customer.access)
    assert _statuses(api, customer.access) == [200, 200, 200]
    assert _served_kids() == [old_kid]

    # when: the operator rotates the key and reloads users
    rotated = shop.stack.manage("users", "jwt_keygen", "--rotate")
    assert rotated.returncode == 0, rotated.stderr
    _reload_users(shop)
    after = _login(api, customer)
    new_kid = _kid(after["access"])
    served_during_overlap = _served_kids()
    # A verifier that fetched the JWKS within the last JWT_JWKS_MIN_REFRESH_SECONDS waits that long.
    new_token_statuses = _poll(lambda: _statuses(api, after["access"]), lambda s: s == [200, 200, 200])
    old_token_statuses = _statuses(api, customer.access)
    refreshed = api.post("/api/auth/refresh", json={"refresh": customer.refresh})

    # then: both keys are served and verify everywhere; the old session refreshes into the new key
    assert new_kid != old_kid
    assert served_during_overlap == [new_kid, old_kid]
    assert new_token_statuses == [200, 200, 200]
    assert old_token_statuses == [200, 200, 200]
    assert refreshed.status_code == 200, refreshed.text
    assert (_kid(refreshed.json()["access"]), _kid(refreshed.json()["refresh"])) == (new_kid, new_kid)

    # when: the overlap ends: the operator drops the previous key and reloads users
    dropped = shop.stack.manage("users", "jwt_keygen", "--drop-previous")
    assert dropped.returncode == 0, dropped.stderr
    _reload_users(shop)
    served_after = _served_kids()
    refused = _poll(
        lambda: [api.get(route, headers={"Authorization": f"Bearer {customer.access}"}) for route in ROUTES],
        lambda responses: all(r.status_code == 401 for r in responses),
    )

    # then: within the verifiers' cache lifetime the old key's tokens are refused; the new key's are not
    assert served_after == [new_kid]
    for response in refused:
        assert_problem(response, 401)
        assert response.json()["detail"] == "Invalid access token: token is signed with an unknown key."
    assert _statuses(api, refreshed.json()["access"]) == [200, 200, 200]
