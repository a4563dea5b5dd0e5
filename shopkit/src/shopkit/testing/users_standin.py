"""A real HTTP server standing in for the users service's staff endpoints in other services' suites.

It answers `POST /api/auth/login`, `/api/auth/introspect` and `/api/auth/logout` in the users
contract's shapes (docs/contracts.md), for the accounts a test adds, and records every request, so
the admins' sign-in and session checks run over real HTTP. The end-to-end suite runs the real users.
"""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from shopkit.testing.http import StandInServer
from shopkit.testing.tokens import access_token


@dataclass
class StandInAccount:
    email: str
    password: str
    is_staff: bool
    is_active: bool = True
    id: uuid.UUID = field(default_factory=uuid.uuid4)


class UsersStandIn(StandInServer):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.accounts: dict[str, StandInAccount] = {}
        # refresh token -> (account e-mail, revoked)
        self._refresh: dict[str, tuple[str, bool]] = {}
        self.requests: list[tuple[str, dict[str, Any]]] = []
        # Set to an int to answer every request with that status (users in trouble).
        self.forced_status: int | None = None
        super().__init__(self._handler_class(), name="users-standin")

    def add_account(self, email: str, password: str, *, is_staff: bool = True) -> StandInAccount:
        account = StandInAccount(email=email.lower(), password=password, is_staff=is_staff)
        with self._lock:
            self.accounts[account.email] = account
        return account

    def revoke_all(self, email: str) -> None:
        """What users does on a password change, deactivation, demotion or deletion."""
        with self._lock:
            for token, (owner, _) in list(self._refresh.items()):
                if owner == email.lower():
                    self._refresh[token] = (owner, True)

    def paths(self) -> list[str]:
        with self._lock:
            return [path for path, _ in self.requests]

    def reset(self) -> None:
        with self._lock:
            self.accounts.clear()
            self._refresh.clear()
            self.requests.clear()
        self.forced_status = None

    # -- the endpoints ------------------------------------------------------------------------
    def _login(self, body: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        with self._lock:
            account = self.accounts.get(str(body.get("email", "")).strip().lower())
            if account is None or account.password != body.get("password") or not account.is_active:
                return 401, {"title": "Unauthorized", "status": 401, "detail": "wrong e-mail or password"}
            refresh = secrets.token_urlsafe(24)
            self._refresh[refresh] = (account.email, False)
        access = access_token(account.id, email=account.email, is_staff=account.is_staff)
        return 200, {"access": access, "refresh": refresh, "token_type": "Bearer", "expires_in": 300}

    def _introspect(self, body: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        with self._lock:
            owner, revoked = self._refresh.get(str(body.get("token", "")), ("", True))
            account = self.accounts.get(owner)
            if revoked or account is None or not account.is_active:
                return 200, {"active": False}
            return 200, {"active": True, "sub": str(account.id), "email": account.email, "is_staff": account.is_staff}

    def _logout(self, body: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        with self._lock:
            token = str(body.get("refresh", ""))
            if token in self._refresh:
                self._refresh[token] = (self._refresh[token][0], True)
        return 204, None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        standin = self
        routes = {
            "/api/auth/login": self._login,
            "/api/auth/introspect": self._introspect,
            "/api/auth/logout": self._logout,
        }

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    body = {}
                with standin._lock:
                    standin.requests.append((self.path, body))
                route = routes.get(self.path)
                answer: dict[str, Any] | None
                if standin.forced_status is not None:
                    status, answer = standin.forced_status, {"status": standin.forced_status}
                elif route is None:
                    status, answer = 404, {"status": 404}
                else:
                    status, answer = route(body)
                payload = b"" if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler
