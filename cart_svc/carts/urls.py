"""URL routes of the cart API (mounted under /api/)."""

from __future__ import annotations

from django.urls import path

from cart_svc.carts import apis

urlpatterns = [
    path("cart", apis.CartApi.as_view(), name="cart"),
    path("cart/items", apis.CartItemListApi.as_view(), name="cart-items"),
    path("cart/items/<str:product_id>", apis.CartItemDetailApi.as_view(), name="cart-item"),
]
