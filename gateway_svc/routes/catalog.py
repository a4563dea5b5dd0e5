"""Catalog: categories and products (products service); writes are for staff only."""

from __future__ import annotations

import uuid

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router

from gateway_svc.auth import bearer, require_staff
from gateway_svc.routes.common import proxy, with_errors
from gateway_svc.schemas import (
    CategoryListOut,
    ProductCreateIn,
    ProductFilters,
    ProductListOut,
    ProductOut,
    ProductPatchIn,
    json_body,
)
from gateway_svc.upstream import Upstream

router = Router(tags=["catalog"])


@router.get("/categories", response=with_errors({200: CategoryListOut}), auth=None)
async def category_list(request: HttpRequest) -> HttpResponse:
    return await proxy(request, Upstream.PRODUCTS, "GET", "/api/categories")


@router.get("/products", response=with_errors({200: ProductListOut}, 400), auth=None)
async def product_list(request: HttpRequest, filters: Query[ProductFilters]) -> HttpResponse:
    return await proxy(request, Upstream.PRODUCTS, "GET", "/api/products", params=filters.as_params())


@router.get("/products/{uuid:product_id}", response=with_errors({200: ProductOut}, 404), auth=None)
async def product_detail(request: HttpRequest, product_id: uuid.UUID) -> HttpResponse:
    return await proxy(request, Upstream.PRODUCTS, "GET", f"/api/products/{product_id}")


@router.post("/products", response=with_errors({201: ProductOut}, 400, 401, 403, 404, 409, 413), auth=bearer)
async def product_create(request: HttpRequest, payload: ProductCreateIn) -> HttpResponse:
    require_staff(request)
    return await proxy(request, Upstream.PRODUCTS, "POST", "/api/products", json_body=json_body(payload))


@router.patch(
    "/products/{uuid:product_id}", response=with_errors({200: ProductOut}, 400, 401, 403, 404, 409, 413), auth=bearer
)
async def product_update(request: HttpRequest, product_id: uuid.UUID, payload: ProductPatchIn) -> HttpResponse:
    require_staff(request)
    return await proxy(request, Upstream.PRODUCTS, "PATCH", f"/api/products/{product_id}", json_body=json_body(payload))
