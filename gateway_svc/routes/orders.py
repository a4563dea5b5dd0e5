"""Checkout and the caller's orders (orders service)."""

from __future__ import annotations

import uuid

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router
from ninja.params.functions import Header

from gateway_svc import ratelimits
from gateway_svc.auth import bearer, claims_of
from gateway_svc.ratelimits import Scope
from gateway_svc.routes.common import proxy, with_errors
from gateway_svc.schemas import IDEMPOTENCY_KEY_PATTERN, OrderListOut, OrderOut, Pagination
from gateway_svc.upstream import Upstream

router = Router(tags=["orders"], auth=bearer)


@router.post("/orders", response=with_errors({200: OrderOut, 201: OrderOut}, 400, 401, 409, 422))
async def checkout(
    request: HttpRequest,
    idempotency_key: str = Header(
        ...,
        alias="Idempotency-Key",
        min_length=1,
        max_length=64,
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="Same key, same order: a retried checkout never orders twice.",
    ),
) -> HttpResponse:
    await ratelimits.enforce(request, Scope.CHECKOUT, key=f"user:{claims_of(request).user_id}")
    return await proxy(request, Upstream.ORDERS, "POST", "/api/orders", headers={"Idempotency-Key": idempotency_key})


@router.get("/orders", response=with_errors({200: OrderListOut}, 400, 401))
async def order_list(request: HttpRequest, pagination: Query[Pagination]) -> HttpResponse:
    params = {"page": str(pagination.page), "page_size": str(pagination.page_size)}
    return await proxy(request, Upstream.ORDERS, "GET", "/api/orders", params=params)


@router.get("/orders/{uuid:order_id}", response=with_errors({200: OrderOut}, 401, 404))
async def order_detail(request: HttpRequest, order_id: uuid.UUID) -> HttpResponse:
    return await proxy(request, Upstream.ORDERS, "GET", f"/api/orders/{order_id}")


@router.post("/orders/{uuid:order_id}/cancel", response=with_errors({200: OrderOut}, 401, 404, 409))
async def order_cancel(request: HttpRequest, order_id: uuid.UUID) -> HttpResponse:
    return await proxy(request, Upstream.ORDERS, "POST", f"/api/orders/{order_id}/cancel")
