"""A real HTTP server standing in for the carts service in this suite (the end-to-end suite runs the real one).

It answers `GET /api/cart` with the cart configured for the request's bearer token, exactly in
the carts contract's shape, and records every request so tests can check what orders sent.
"""

from __future__ import annotations

import json
import threading
from decimal import Decimal
from typing import Any

from shopkit.testing.http import StandInServer, json_get_handler


class CartsStandIn(StandInServer):
    def __init__(self) -> None:
        self._carts: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.requests: list[dict[str, str]] = []
        # Set to an int to answer every request with that status; to raw bytes to answer garbage.
        self.forced_status: int | None = None
        self.forced_body: bytes | None = None
        # Set to a Barrier to hold each answer until that many requests are waiting (races on purpose).
        self.barrier: threading.Barrier | None = None
        super().__init__(json_get_handler(self._answer), name="carts-standin")

    def put_cart(self, token: str, lines: list[tuple[str, str, int, str]], currency: str = "USD") -> None:
        """The cart of the token's user: lines of (product_id, name, quantity, unit_price)."""
        body_lines = [
            {
                "product_id": product_id,
                "name": name,
                "quantity": quantity,
                "unit_price": unit_price,
                "line_total": str(Decimal(unit_price) * quantity),
            }
            for product_id, name, quantity, unit_price in lines
        ]
        total = sum((Decimal(unit_price) * quantity for _, _, quantity, unit_price in lines), Decimal("0.00"))
        with self._lock:
            self._carts[token] = {"lines": body_lines, "total": str(total), "currency": currency}

    def reset(self) -> None:
        with self._lock:
            self._carts.clear()
            self.requests.clear()
        self.forced_status = self.forced_body = self.barrier = None

    def _answer(self, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
        with self._lock:
            self.requests.append({"path": path, **headers})
        if self.barrier is not None:
            self.barrier.wait(timeout=10)
        if self.forced_body is not None:
            return 200, self.forced_body
        if self.forced_status is not None:
            return self.forced_status, b'{"status": %d}' % self.forced_status
        if path != "/api/cart":
            return 404, b'{"status": 404}'
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme != "Bearer" or not token:
            return 401, b'{"status": 401}'
        with self._lock:
            cart = self._carts.get(token, {"lines": [], "total": "0.00", "currency": "USD"})
        return 200, json.dumps(cart).encode()
