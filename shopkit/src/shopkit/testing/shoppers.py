"""Customers of a DRF service's suite: an id, an access token of the test key and an API client sending it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shopkit.testing.tokens import access_token

if TYPE_CHECKING:
    from rest_framework.test import APIClient


@dataclass(frozen=True)
class Shopper:
    user_id: uuid.UUID
    token: str
    client: APIClient

    @property
    def authorization(self) -> str:
        """The `Authorization` header value, for calls a service makes on the customer's behalf."""
        return f"Bearer {self.token}"


def new_shopper() -> Shopper:
    """A customer nobody has seen yet (the `make_shopper` and `shopper` fixtures of shopkit's plugin)."""
    from rest_framework.test import APIClient  # DRF only where a suite asks for a shopper

    user_id = uuid.uuid4()
    token = access_token(user_id, email=f"{user_id.hex[:8]}@example.com")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return Shopper(user_id=user_id, token=token, client=client)
