"""URL routes of the catalog API (mounted under /api/)."""

from __future__ import annotations

from django.urls import path

from product_svc.catalog import apis

urlpatterns = [
    path("categories", apis.CategoryListApi.as_view(), name="category-list"),
    path("products", apis.ProductListApi.as_view(), name="product-list"),
    path("products/<str:product_id>", apis.ProductDetailApi.as_view(), name="product-detail"),
]
