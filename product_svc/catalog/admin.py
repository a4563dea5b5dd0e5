"""Admin of the catalog: categories and products (edits go through the services), reservations read-only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest

from product_svc.catalog import services
from product_svc.catalog.models import Category, Product, Reservation, ReservationLine

# django-stubs types these as generics; at run time (without django-stubs-ext) they are not subscriptable.
if TYPE_CHECKING:
    _CategoryAdminBase = admin.ModelAdmin[Category]
    _ProductAdminBase = admin.ModelAdmin[Product]
    _ReservationAdminBase = admin.ModelAdmin[Reservation]
    _LineInlineBase = admin.TabularInline[ReservationLine, Reservation]
else:
    _CategoryAdminBase = _ProductAdminBase = _ReservationAdminBase = admin.ModelAdmin
    _LineInlineBase = admin.TabularInline


def _adopt(obj: Category | Product, saved: Category | Product) -> None:
    """The admin keeps working with its own instance (redirects, change log): give it the saved state."""
    obj.__dict__.update(saved.__dict__)


class InStockFilter(admin.SimpleListFilter):
    title = "in stock"
    parameter_name = "in_stock"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "In stock"), ("no", "Out of stock")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(stock__gt=0)
        if self.value() == "no":
            return queryset.filter(stock=0)
        return queryset


@admin.register(Category)
class CategoryAdmin(_CategoryAdminBase):
    list_display = ("name", "slug", "updated_at")
    search_fields = ("name", "slug")
    readonly_fields = ("created_at", "updated_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Category | None = None) -> Any:
        # The slug is the category's public key (product filters, links): fixed once created.
        return (*self.readonly_fields, "slug") if obj is not None else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: Category, form: ModelForm[Category], change: bool) -> None:
        if change:
            services.category_update(category=obj, name=obj.name, description=obj.description)
        else:
            _adopt(obj, services.category_create(slug=obj.slug, name=obj.name, description=obj.description))


@admin.register(Product)
class ProductAdmin(_ProductAdminBase):
    list_display = ("name", "sku", "category", "price", "currency", "stock", "active", "updated_at")
    list_editable = ("price", "stock", "active")
    list_filter = ("category", "active", InStockFilter)
    list_select_related = ("category",)
    search_fields = ("name", "sku")
    readonly_fields = ("created_at", "updated_at")
    autocomplete_fields = ("category",)

    def get_readonly_fields(self, request: HttpRequest, obj: Product | None = None) -> Any:
        # SKU and slug identify the product to other systems: set on creation only.
        return (*self.readonly_fields, "sku", "slug", "currency") if obj is not None else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: Product, form: ModelForm[Product], change: bool) -> None:
        if change:
            updated = services.product_update(
                product_id=obj.pk,
                name=obj.name,
                description=obj.description,
                price=obj.price,
                stock=obj.stock,
                active=obj.active,
                category_slug=obj.category.slug,
            )
            _adopt(obj, updated)
        else:
            created = services.product_create(
                sku=obj.sku,
                name=obj.name,
                slug=obj.slug or None,
                description=obj.description,
                price=obj.price,
                currency=obj.currency,
                stock=obj.stock,
                active=obj.active,
                category_slug=obj.category.slug,
            )
            _adopt(obj, created)


class ReservationLineInline(_LineInlineBase):
    model = ReservationLine
    fields = ("product", "name", "quantity", "unit_price", "currency")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Reservation)
class ReservationAdmin(_ReservationAdminBase):
    """Read-only: reservations change only through orders (gRPC) and cancellation events."""

    list_display = ("order_id", "status", "created_at", "updated_at")
    list_filter = ("status",)
    search_fields = ("=order_id",)
    inlines = [ReservationLineInline]
    readonly_fields = ("order_id", "status", "created_at", "updated_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Reservation | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Reservation | None = None) -> bool:
        return False
