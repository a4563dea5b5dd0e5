"""The orders REST API: checkout, the caller's orders, cancellation. Parse, call one service or selector, render."""

from __future__ import annotations

import uuid

from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from order_svc.orders.errors import IdempotencyKeyRequired, OrderNotFound
from order_svc.orders.selectors import order_get, order_list
from order_svc.orders.serializers import OrderOutputSerializer, PaginationSerializer
from order_svc.orders.services import order_cancel, order_checkout
from shopkit.drf import caller_id


def _order_id(raw: str) -> uuid.UUID:
    """A malformed id is simply an order that does not exist (404), never a 400 or a 500."""
    try:
        return uuid.UUID(raw)
    except ValueError as exc:
        raise OrderNotFound from exc


class OrderListCreateApi(APIView):
    def get(self, request: Request) -> Response:
        params = PaginationSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        page, page_size = params.validated_data["page"], params.validated_data["page_size"]
        result = order_list(user_id=caller_id(request), page=page, page_size=page_size)
        items = OrderOutputSerializer(result.items, many=True).data
        return Response({"items": items, "count": result.count, "page": page, "page_size": page_size})

    def post(self, request: Request) -> Response:
        key = request.headers.get("Idempotency-Key")
        if key is None:
            raise IdempotencyKeyRequired
        result = order_checkout(
            user_id=caller_id(request), idempotency_key=key, authorization=request.headers["Authorization"]
        )
        code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        return Response(OrderOutputSerializer(result.order).data, status=code)


class OrderDetailApi(APIView):
    def get(self, request: Request, order_id: str) -> Response:
        order = order_get(order_id=_order_id(order_id), user_id=caller_id(request))
        return Response(OrderOutputSerializer(order).data)


class OrderCancelApi(APIView):
    def post(self, request: Request, order_id: str) -> Response:
        order = order_cancel(order_id=_order_id(order_id), user_id=caller_id(request))
        return Response(OrderOutputSerializer(order).data)
