"""REST API of the catalog (DRF): parse input, call one service or selector, render output (cached reads)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpResponse
from rest_framework.permissions import AllowAny, BasePermission, IsAdminUser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from product_svc.catalog import selectors, services
from product_svc.catalog.cache import cache_key, cached
from product_svc.catalog.errors import ProductNotFound
from product_svc.catalog.serializers import (
    CategoryOutputSerializer,
    ProductCreateInputSerializer,
    ProductFilterSerializer,
    ProductOutputSerializer,
    ProductStaffOutputSerializer,
    ProductUpdateInputSerializer,
    product_output,
)

_JSON = JSONRenderer()


def _cached_json(key: str, produce: Callable[[], Any]) -> HttpResponse:
    """A cached read, stored as the JSON bytes DRF would render: a hit skips rendering altogether."""
    return HttpResponse(cached(key, lambda: _JSON.render(produce())), content_type="application/json")


def _is_staff(request: Request) -> bool:
    return bool(request.user is not None and getattr(request.user, "is_staff", False))


class ReadPublicWriteStaff(APIView):
    """Anyone reads (a bad token is still a 401); only staff write."""

    def get_permissions(self) -> list[BasePermission]:
        if self.request.method in ("GET", "HEAD", "OPTIONS"):
            return [AllowAny()]
        return [IsAdminUser()]


class CategoryListApi(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> HttpResponse:
        def render() -> dict[str, Any]:
            items = CategoryOutputSerializer(selectors.category_list(), many=True).data
            return {"items": items, "count": len(items)}

        return _cached_json(cache_key("categories"), render)


class ProductListApi(ReadPublicWriteStaff):
    def get(self, request: Request) -> HttpResponse:
        serializer = ProductFilterSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        filters = dict(serializer.validated_data)
        page, page_size = filters.pop("page"), filters.pop("page_size")
        staff = _is_staff(request)

        def render() -> dict[str, Any]:
            products = selectors.product_list(filters=filters, include_inactive=staff)
            count = products.count()
            start = (page - 1) * page_size
            serializer = ProductStaffOutputSerializer if staff else ProductOutputSerializer
            items = serializer(products[start : start + page_size], many=True).data if start < count else []
            return {"items": items, "count": count, "page": page, "page_size": page_size}

        key = cache_key("products", staff=staff, page=page, page_size=page_size, **filters)
        return _cached_json(key, render)

    def post(self, request: Request) -> Response:
        serializer = ProductCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        product = services.product_create(category_slug=data.pop("category"), **data)
        return Response(product_output(product, staff=True), status=201)


class ProductDetailApi(ReadPublicWriteStaff):
    def get(self, request: Request, product_id: str) -> HttpResponse:
        parsed = selectors.parse_uuid(product_id)
        if parsed is None:
            raise ProductNotFound(product_id)
        staff = _is_staff(request)

        def render() -> dict[str, Any]:
            product = selectors.product_get(product_id=parsed, include_inactive=staff)
            return product_output(product, staff=staff)

        return _cached_json(cache_key("product", product_id=str(parsed), staff=staff), render)

    def patch(self, request: Request, product_id: str) -> Response:
        parsed = selectors.parse_uuid(product_id)
        if parsed is None:
            raise ProductNotFound(product_id)
        serializer = ProductUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if "category" in data:
            data["category_slug"] = data.pop("category")
        product = services.product_update(product_id=parsed, **data)
        return Response(product_output(product, staff=True))
