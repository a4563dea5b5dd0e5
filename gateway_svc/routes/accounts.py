"""Accounts: registration, tokens and the caller's profile (users service)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Router

from gateway_svc import ratelimits
from gateway_svc.auth import bearer
from gateway_svc.ratelimits import Scope, client_ip
from gateway_svc.routes.common import proxy, with_errors
from gateway_svc.schemas import (
    LoginIn,
    PasswordChangeIn,
    ProfilePatchIn,
    RefreshIn,
    RegisterIn,
    TokenPairOut,
    UserOut,
    json_body,
)
from gateway_svc.upstream import Upstream

router = Router(tags=["accounts"])


@router.post("/auth/register", response=with_errors({201: UserOut}, 400, 409, 413), auth=None)
async def register(request: HttpRequest, payload: RegisterIn) -> HttpResponse:
    await ratelimits.enforce(request, Scope.REGISTER, key=client_ip(request))
    return await proxy(request, Upstream.USERS, "POST", "/api/auth/register", json_body=json_body(payload))


@router.post("/auth/login", response=with_errors({200: TokenPairOut}, 400, 401, 413), auth=None)
async def login(request: HttpRequest, payload: LoginIn) -> HttpResponse:
    # Per address (one client trying many accounts) and per account (many clients trying one).
    await ratelimits.enforce(request, Scope.LOGIN, key=client_ip(request))
    await ratelimits.enforce(request, Scope.LOGIN_ACCOUNT, key=payload.email.lower())
    return await proxy(request, Upstream.USERS, "POST", "/api/auth/login", json_body=json_body(payload))


@router.post("/auth/refresh", response=with_errors({200: TokenPairOut}, 400, 401, 413), auth=None)
async def refresh(request: HttpRequest, payload: RefreshIn) -> HttpResponse:
    await ratelimits.enforce(request, Scope.REFRESH, key=client_ip(request))
    return await proxy(request, Upstream.USERS, "POST", "/api/auth/refresh", json_body=json_body(payload))


@router.post("/auth/logout", response=with_errors({204: None}, 400, 401, 413), auth=None)
async def logout(request: HttpRequest, payload: RefreshIn) -> HttpResponse:
    await ratelimits.enforce(request, Scope.REFRESH, key=client_ip(request))
    return await proxy(request, Upstream.USERS, "POST", "/api/auth/logout", json_body=json_body(payload))


@router.get("/users/me", response=with_errors({200: UserOut}, 401), auth=bearer)
async def me(request: HttpRequest) -> HttpResponse:
    return await proxy(request, Upstream.USERS, "GET", "/api/users/me")


@router.patch("/users/me", response=with_errors({200: UserOut}, 400, 401, 413), auth=bearer)
async def me_update(request: HttpRequest, payload: ProfilePatchIn) -> HttpResponse:
    return await proxy(request, Upstream.USERS, "PATCH", "/api/users/me", json_body=json_body(payload))


@router.post("/users/me/password", response=with_errors({204: None}, 400, 401, 413), auth=bearer)
async def password_change(request: HttpRequest, payload: PasswordChangeIn) -> HttpResponse:
    return await proxy(request, Upstream.USERS, "POST", "/api/users/me/password", json_body=json_body(payload))
