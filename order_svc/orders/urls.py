"""URL routes of the orders API."""

from django.urls import path

from order_svc.orders.apis import OrderCancelApi, OrderDetailApi, OrderListCreateApi

urlpatterns = [
    path("orders", OrderListCreateApi.as_view(), name="order-list"),
    path("orders/<str:order_id>", OrderDetailApi.as_view(), name="order-detail"),
    path("orders/<str:order_id>/cancel", OrderCancelApi.as_view(), name="order-cancel"),
]
