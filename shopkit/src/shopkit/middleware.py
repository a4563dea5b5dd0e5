"""Request middleware shared by every HTTP service."""

from __future__ import annotations

from collections.abc import Callable

import structlog
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django_structlog.middlewares import RequestMiddleware

from shopkit.dual_middleware import ResponseMiddleware
from shopkit.logging import get_logger
from shopkit.tracing import current_trace_id, name_server_span

log = get_logger(__name__)
# django-structlog's own logger, so a quiet access line is the same line, only at DEBUG.
access_log = get_logger("django_structlog.middlewares.request")


class TraceIdMiddleware(ResponseMiddleware):
    """Puts the OpenTelemetry trace id on every response as `X-Trace-Id` (WSGI and ASGI alike)."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        # Async services trace with the ASGI middleware, which knows no route: name the span after it here.
        if settings.SHOP_TRACING_ASGI and (match := request.resolver_match) is not None and match.route:
            name_server_span(request.method or "", match.route)
        return self._stamp(response)

    @staticmethod
    def _stamp(response: HttpResponse) -> HttpResponse:
        trace_id = current_trace_id()
        if trace_id:
            response["X-Trace-Id"] = trace_id
        return response


class AdminLoginThrottleMiddleware:
    """Limits admin sign-in attempts per client address and per submitted e-mail (brute force)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and request.path == "/admin/login/" and settings.ADMIN_LOGIN_RATE:
            from django_ratelimit.core import get_usage

            from shopkit.problems import problem_response

            username = (request.POST.get("username") or "").strip().lower()[:254]
            for group, key in (("admin-login-ip", "ip"), ("admin-login-user", lambda g, r: username)):
                usage = get_usage(request, group=group, key=key, rate=settings.ADMIN_LOGIN_RATE, increment=True)
                if usage is not None and usage["should_limit"]:
                    log.warning("admin_login_throttled", scope=group, username=username)
                    retry_after = str(max(1, int(usage["time_left"])))
                    return problem_response(
                        429,
                        detail="Too many sign-in attempts; wait and try again.",
                        headers={"Retry-After": retry_after},
                    )
        return self.get_response(request)


class StaffSessionMiddleware:
    """Ends an admin session signed in through the users service once users no longer vouches for it.

    Only requests carrying a session cookie are looked at: API calls (bearer tokens) never load a session.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        # Imported here: it needs django.contrib.auth, which the gateway (TraceIdMiddleware's user) lacks.
        from shopkit.staff_session import staff_session_verify

        self.get_response = get_response
        self.verify = staff_session_verify

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.SESSION_COOKIE_NAME in request.COOKIES:
            self.verify(request)
        return self.get_response(request)


class RequestLogMiddleware(RequestMiddleware):
    """django-structlog's access line (`request_finished`), at DEBUG for the paths in LOG_QUIET_PATHS.

    Health probes and Prometheus scrapes are most requests and say nothing at INFO; an answer that is an
    error there (status 400 or more, such as a failed readiness's 503) keeps its usual line and level.
    """

    def handle_response(self, request: HttpRequest, response: HttpResponse) -> None:
        if request.path in settings.LOG_QUIET_PATHS and response.status_code < 400:
            access_log.debug("request_finished", code=response.status_code, request=self.format_request(request))
            structlog.contextvars.clear_contextvars()
            return
        super().handle_response(request, response)
