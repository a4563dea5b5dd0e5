"""Admin of the catalog: categories and products (edits go through the services), reservations read-only.

Staff set a product's stock on hand; what checkouts allocated and what is left available are shown
beside it and never written from a form.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest

from product_svc.catalog import services
from product_svc.catalog.models import Category, Product, Reservation, ReservationLine
from shopkit.errors import ApplicationError

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


# What a change form may send to product_update, and the service's name for it.
_UPDATABLE = {
    "name": "name",
    "description": "description",
    "price": "price",
    "stock_on_hand": "stock_on_hand",
    "active": "active",
}


class ProductAdminForm(ModelForm):  # type: ignore[type-arg]
    """A product's change form and each row of the list edit.

    Every field carries the value it had when the page was rendered (a hidden initial), so
    `changed_data` names what this staff member changed, not what differs from the row now: a list
    edit of the price never writes back an on-hand count another staff member changed meanwhile.
    On hand below what is allocated is refused here (the service checks again, atomically).
    """

    class Meta:
        model = Product
        fields = ("sku", "name", "slug", "description", "price", "currency", "stock_on_hand", "active", "category")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            for name in (*_UPDATABLE, "category"):
                if name in self.fields:
                    self.fields[name].show_hidden_initial = True

    def clean_stock_on_hand(self) -> int:
        on_hand: int = self.cleaned_data["stock_on_hand"]
        allocated = self.instance.stock_allocated if self.instance.pk else 0
        if "stock_on_hand" in self.changed_data and on_hand < allocated:
            raise ValidationError(
                f"{allocated} unit(s) are allocated to orders: on hand cannot be less.", code="below-allocated"
            )
        return on_hand


@admin.register(Product)
class ProductAdmin(_ProductAdminBase):
    form = ProductAdminForm
    list_display = (
        "name",
        "sku",
        "category",
        "price",
        "currency",
        "stock_on_hand",
        "stock_allocated",
        "stock",
        "active",
        "updated_at",
    )
    # Staff set what is on hand; allocated (by checkouts) and available (the difference) are shown only.
    list_editable = ("price", "stock_on_hand", "active")
    list_filter = ("category", "active", InStockFilter)
    list_select_related = ("category",)
    search_fields = ("name", "sku")
    readonly_fields = ("stock_allocated", "stock", "created_at", "updated_at")
    autocomplete_fields = ("category",)

    def get_readonly_fields(self, request: HttpRequest, obj: Product | None = None) -> Any:
        # SKU and slug identify the product to other systems: set on creation only.
        return (*self.readonly_fields, "sku", "slug", "currency") if obj is not None else self.readonly_fields

    def get_changelist_form(self, request: HttpRequest, **kwargs: Any) -> Any:
        return super().get_changelist_form(request, form=ProductAdminForm, **kwargs)

    def save_model(self, request: HttpRequest, obj: Product, form: ModelForm[Product], change: bool) -> None:
        if change:
            # Only what this staff member changed: a list edit of the price must not write back an
            # on-hand value (or a name) that another staff member changed since the page was read.
            changes: dict[str, Any] = {
                _UPDATABLE[name]: form.cleaned_data[name] for name in form.changed_data if name in _UPDATABLE
            }
            if "category" in form.changed_data:
                changes["category_slug"] = obj.category.slug
            try:
                updated = services.product_update(product_id=obj.pk, **changes)
            except ApplicationError as exc:
                # A checkout allocated units between the form's check and the save: nothing was written.
                self.message_user(request, f"{obj}: {exc.detail}", level=messages.ERROR)
                obj.refresh_from_db()
                return
            _adopt(obj, updated)
        else:
            created = services.product_create(
                sku=obj.sku,
                name=obj.name,
                slug=obj.slug or None,
                description=obj.description,
                price=obj.price,
                currency=obj.currency,
                stock_on_hand=obj.stock_on_hand,
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

    list_display = ("order_id", "status", "expires_at", "created_at", "updated_at")
    list_filter = ("status",)
    search_fields = ("=order_id",)
    inlines = [ReservationLineInline]
    readonly_fields = ("order_id", "status", "expires_at", "created_at", "updated_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Reservation | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Reservation | None = None) -> bool:
        return False
