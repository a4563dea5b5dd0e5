"""Admin of the carts service: carts with their lines (read-only); staff may remove lines through a service."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from cart_svc.carts import services
from cart_svc.carts.models import Cart, CartLine

# django-stubs types these as generics; at run time (without django-stubs-ext) they are not subscriptable.
if TYPE_CHECKING:
    _CartAdminBase = admin.ModelAdmin[Cart]
    _CartLineAdminBase = admin.ModelAdmin[CartLine]
    _CartLineInlineBase = admin.TabularInline[CartLine, Cart]
else:
    _CartAdminBase = admin.ModelAdmin
    _CartLineAdminBase = admin.ModelAdmin
    _CartLineInlineBase = admin.TabularInline

LINE_FIELDS = ("product_id", "name", "quantity", "unit_price", "currency", "created_at", "updated_at")


class ReadOnlyAdminMixin:
    """Carts change only through their services (customers' requests, order events, the action below)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CartLineInline(ReadOnlyAdminMixin, _CartLineInlineBase):
    model = CartLine
    fields = LINE_FIELDS
    readonly_fields = LINE_FIELDS
    extra = 0
    ordering = ("created_at", "id")


def _search_uuid(search_term: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(search_term.strip())
    except ValueError:
        return None


@admin.register(Cart)
class CartAdmin(ReadOnlyAdminMixin, _CartAdminBase):
    list_display = ("user_id", "line_count", "created_at", "updated_at")
    fields = ("id", "user_id", "created_at", "updated_at")
    readonly_fields = fields
    search_fields = ("=user_id",)
    search_help_text = "The customer's user id (UUID)."
    inlines = (CartLineInline,)
    ordering = ("-updated_at",)
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Cart]:
        return super().get_queryset(request).annotate(line_count=Count("lines"))

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Cart], search_term: str
    ) -> tuple[QuerySet[Cart], bool]:
        if not search_term.strip():
            return queryset, False
        # An exact UUID match; anything else cannot be a user id (and must not reach the database as one).
        user_id = _search_uuid(search_term)
        return (queryset.filter(user_id=user_id) if user_id else queryset.none()), False

    @admin.display(description="lines", ordering="line_count")
    def line_count(self, obj: Cart) -> int:
        return int(getattr(obj, "line_count", 0))


@admin.register(CartLine)
class CartLineAdmin(ReadOnlyAdminMixin, _CartLineAdminBase):
    list_display = ("product_id", "name", "quantity", "unit_price", "currency", "cart_user_id", "updated_at")
    fields = ("id", "cart", *LINE_FIELDS)
    readonly_fields = fields
    search_fields = ("=cart__user_id", "=product_id")
    search_help_text = "The customer's user id or the product id (UUID)."
    list_select_related = ("cart",)
    ordering = ("-updated_at",)
    actions = ("remove_lines",)
    show_full_result_count = False

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[CartLine], search_term: str
    ) -> tuple[QuerySet[CartLine], bool]:
        if not search_term.strip():
            return queryset, False
        term = _search_uuid(search_term)
        if term is None:
            return queryset.none(), False
        return queryset.filter(cart__user_id=term) | queryset.filter(product_id=term), False

    @admin.display(description="customer", ordering="cart__user_id")
    def cart_user_id(self, obj: CartLine) -> uuid.UUID:
        return obj.cart.user_id

    def has_remove_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("carts.delete_cartline")

    @admin.action(description="Remove the selected lines from their carts", permissions=("remove",))
    def remove_lines(self, request: HttpRequest, queryset: QuerySet[CartLine]) -> None:
        removed = services.cart_lines_remove(
            line_ids=list(queryset.values_list("id", flat=True)), removed_by=str(request.user)
        )
        self.message_user(request, f"{removed} cart line(s) removed.", messages.SUCCESS)
