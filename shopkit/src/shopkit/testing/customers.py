"""A customer of a running shop through the gateway's HTTP API: what the e2e, alert and stack suites sign in as."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx

# Made up for the tests: long and uncommon enough for the users service's password rules.
PASSWORD = "correct-horse-battery-9"  # noqa: S105  # pragma: allowlist secret


@dataclass
class Customer:
    """Signed in; `access` is the last login's token (a load driver signs in again when it expires)."""

    email: str
    password: str
    access: str
    refresh: str
    id: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}


def _login(client: httpx.Client, email: str, password: str) -> dict[str, str]:
    tokens = client.post("/api/auth/login", json={"email": email, "password": password})
    assert tokens.status_code == 200, tokens.text
    body: dict[str, str] = tokens.json()
    return body


def register_customer(client: httpx.Client, *, prefix: str, first_name: str = "Eve") -> Customer:
    """A new account `<prefix>-<random>@example.com` (201 asserted), then its login (200 asserted)."""
    email = f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"
    registered = client.post(
        "/api/auth/register", json={"email": email, "password": PASSWORD, "first_name": first_name}
    )
    assert registered.status_code == 201, registered.text
    tokens = _login(client, email, PASSWORD)
    return Customer(email, PASSWORD, tokens["access"], tokens["refresh"], registered.json()["id"])


def sign_in(client: httpx.Client, email: str, password: str) -> Customer:
    """An existing account (the seeded staff member): its login, and its id from /api/users/me."""
    tokens = _login(client, email, password)
    me = client.get("/api/users/me", headers={"Authorization": f"Bearer {tokens['access']}"})
    assert me.status_code == 200, me.text
    return Customer(email, password, tokens["access"], tokens["refresh"], me.json()["id"])
