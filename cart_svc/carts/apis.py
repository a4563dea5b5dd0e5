"""REST API of the carts service (DRF): the caller's own cart only; every change answers with the whole cart."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cart_svc.carts import services
from cart_svc.carts.errors import CartLineNotFound
from cart_svc.carts.selectors import cart_get
from cart_svc.carts.serializers import CartItemAddInputSerializer, CartItemSetInputSerializer, CartOutputSerializer
from shopkit.drf import caller_id


def _path_product_id(product_id: str) -> uuid.UUID:
    """A malformed id cannot be in any cart: the same 404 as a product that is not there."""
    try:
        return uuid.UUID(product_id)
    except ValueError:
        raise CartLineNotFound(product_id) from None


def _cart_response(user_id: uuid.UUID, *, fresh: Collection[uuid.UUID] = ()) -> Response:
    return Response(CartOutputSerializer(cart_get(user_id=user_id, fresh=fresh)).data)


class CartApi(APIView):
    def get(self, request: Request) -> Response:
        return _cart_response(caller_id(request))


class CartItemListApi(APIView):
    def post(self, request: Request) -> Response:
        user_id = caller_id(request)
        serializer = CartItemAddInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        line = services.cart_item_add(user_id=user_id, **serializer.validated_data)
        return _cart_response(user_id, fresh={line.product_id})


class CartItemDetailApi(APIView):
    def patch(self, request: Request, product_id: str) -> Response:
        user_id = caller_id(request)
        parsed = _path_product_id(product_id)
        serializer = CartItemSetInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        line = services.cart_item_set(
            user_id=user_id, product_id=parsed, quantity=serializer.validated_data["quantity"]
        )
        return _cart_response(user_id, fresh={line.product_id})

    def delete(self, request: Request, product_id: str) -> Response:
        user_id = caller_id(request)
        services.cart_item_remove(user_id=user_id, product_id=_path_product_id(product_id))
        return _cart_response(user_id)
