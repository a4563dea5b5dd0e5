"""A real HTTP JWKS endpoint for tests: serves whichever keys a test sets, counts its requests, can fail."""

from __future__ import annotations

import json
import threading
from typing import Any

from shopkit.testing.http import StandInServer, json_get_handler
from shopkit.testing.tokens import KeyPair

PATH = "/api/.well-known/jwks.json"


class JwksServer(StandInServer):
    """What verifiers see of the users service's `GET /api/.well-known/jwks.json`, with a key set that changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: list[dict[str, Any]] = []
        self._requests = 0
        # Set to an int to answer every request with that status (users in trouble).
        self.forced_status: int | None = None
        super().__init__(json_get_handler(self._answer), name="jwks-server")

    @property
    def url(self) -> str:
        return f"{self.base_url}{PATH}"

    @property
    def requests(self) -> int:
        with self._lock:
            return self._requests

    def serve(self, keys: dict[str, KeyPair]) -> None:
        """From now on the JWKS holds exactly these keys, by kid."""
        with self._lock:
            self._keys = [pair.jwk(kid) for kid, pair in keys.items()]

    def _answer(self, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
        if path != PATH:
            return 404, b"{}"
        with self._lock:
            self._requests += 1
            if self.forced_status is not None:
                return self.forced_status, b'{"title": "unavailable"}'
            return 200, json.dumps({"keys": self._keys}).encode()
