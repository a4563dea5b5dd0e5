"""The caller's cart (carts service)."""

from __future__ import annotations

import uuid

from django.http import HttpRequest, HttpResponse
from ninja import Router

from gateway_svc.auth import bearer
from gateway_svc.routes.common import proxy, with_errors
from gateway_svc.schemas import CartItemIn, CartOut, CartQuantityIn, json_body
from gateway_svc.upstream import Upstream

router = Router(tags=["cart"], auth=bearer)


@router.get("/cart", response=with_errors({200: CartOut}, 401))
async def cart_detail(request: HttpRequest) -> HttpResponse:
    return await proxy(request, Upstream.CARTS, "GET", "/api/cart")


@router.post("/cart/items", response=with_errors({200: CartOut}, 400, 401, 404, 409, 413))
async def cart_item_add(request: HttpRequest, payload: CartItemIn) -> HttpResponse:
    return await proxy(request, Upstream.CARTS, "POST", "/api/cart/items", json_body=json_body(payload))


@router.patch("/cart/items/{uuid:product_id}", response=with_errors({200: CartOut}, 400, 401, 404, 409, 413))
async def cart_item_update(request: HttpRequest, product_id: uuid.UUID, payload: CartQuantityIn) -> HttpResponse:
    return await proxy(request, Upstream.CARTS, "PATCH", f"/api/cart/items/{product_id}", json_body=json_body(payload))


@router.delete("/cart/items/{uuid:product_id}", response=with_errors({200: CartOut}, 401, 404))
async def cart_item_remove(request: HttpRequest, product_id: uuid.UUID) -> HttpResponse:
    return await proxy(request, Upstream.CARTS, "DELETE", f"/api/cart/items/{product_id}")
