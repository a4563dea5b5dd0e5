"""Input and output serializers of the catalog API (validation and rendering only, no business rules)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import serializers
from rest_framework.fields import empty

from product_svc.catalog.filters import ORDERINGS
from product_svc.catalog.models import Category, Product

MAX_PRICE = Decimal("99999999.99")
MAX_STOCK = 1_000_000
MAX_PAGE = 100_000
MAX_SEARCH_LENGTH = 100
SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


class StrictBooleanField(serializers.BooleanField):
    """Only true/false (and 1/0): DRF's default would also take "yes", "on" and friends."""

    TRUE_VALUES = {"true", "True", "1", True}
    FALSE_VALUES = {"false", "False", "0", False}
    NULL_VALUES: set[Any] = set()
    # DRF reads a boolean missing from a query string as False (HTML checkbox rule); here it means "no filter".
    default_empty_html = empty


class PaginationSerializer(serializers.Serializer[Any]):
    page = serializers.IntegerField(min_value=1, max_value=MAX_PAGE, default=1)
    page_size = serializers.IntegerField(min_value=1, max_value=100, default=20)


class ProductFilterSerializer(PaginationSerializer):
    category = serializers.SlugField(max_length=80, required=False)
    min_price = serializers.DecimalField(
        max_digits=10, decimal_places=2, min_value=0, max_value=MAX_PRICE, required=False
    )
    max_price = serializers.DecimalField(
        max_digits=10, decimal_places=2, min_value=0, max_value=MAX_PRICE, required=False
    )
    in_stock = StrictBooleanField(required=False)
    search = serializers.CharField(max_length=MAX_SEARCH_LENGTH, required=False, trim_whitespace=True)
    ordering = serializers.ChoiceField(choices=list(ORDERINGS), required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        low, high = attrs.get("min_price"), attrs.get("max_price")
        if low is not None and high is not None and low > high:
            raise serializers.ValidationError({"max_price": ["Must not be below min_price."]})
        return attrs


class CategoryRefSerializer(serializers.ModelSerializer[Category]):
    class Meta:
        model = Category
        fields = ["id", "slug", "name"]


class CategoryOutputSerializer(serializers.ModelSerializer[Category]):
    class Meta:
        model = Category
        fields = ["id", "slug", "name", "description"]


class ProductOutputSerializer(serializers.ModelSerializer[Product]):
    """A product as customers see it: `stock` is what is available (on hand - allocated)."""

    category = CategoryRefSerializer()

    class Meta:
        model = Product
        fields = [
            "id",
            "sku",
            "name",
            "slug",
            "description",
            "price",
            "currency",
            "stock",
            "active",
            "category",
            "created_at",
            "updated_at",
        ]


class ProductStaffOutputSerializer(ProductOutputSerializer):
    """Staff also see what is on hand and what checkouts allocated of it."""

    class Meta(ProductOutputSerializer.Meta):
        fields = [*ProductOutputSerializer.Meta.fields, "stock_on_hand", "stock_allocated"]


def product_output(product: Product, *, staff: bool) -> dict[str, Any]:
    serializer = ProductStaffOutputSerializer if staff else ProductOutputSerializer
    return dict(serializer(product).data)


class ProductCreateInputSerializer(serializers.Serializer[Any]):
    sku = serializers.RegexField(SKU_PATTERN, max_length=64)
    name = serializers.CharField(max_length=200)
    slug = serializers.SlugField(max_length=220, required=False)
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    price = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0, max_value=MAX_PRICE)
    currency = serializers.RegexField(r"^[A-Z]{3}$", required=False, default="USD")
    stock_on_hand = serializers.IntegerField(min_value=0, max_value=MAX_STOCK, required=False)
    # A new product has nothing allocated, so its first stock is what is on hand: `stock` is taken as
    # that, as it always was; give one of the two.
    stock = serializers.IntegerField(min_value=0, max_value=MAX_STOCK, required=False)
    active = serializers.BooleanField(required=False, default=True)
    category = serializers.SlugField(max_length=80)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        # Listed with the other missing fields, not only once they are all valid.
        errors: dict[str, Any] = {}
        try:
            attrs: dict[str, Any] = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            errors, attrs = dict(exc.detail), {}  # type: ignore[arg-type]
        given = {"stock", "stock_on_hand"} & set(data if isinstance(data, dict) else ())
        if not given:
            errors.setdefault("stock_on_hand", ["This field is required."])
        elif len(given) == 2:
            errors.setdefault("stock", ["Give stock_on_hand or stock, not both."])
        if errors:
            raise serializers.ValidationError(errors)
        if "stock" in attrs:
            attrs["stock_on_hand"] = attrs.pop("stock")
        return attrs


class ProductUpdateInputSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    price = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0, max_value=MAX_PRICE, required=False)
    # Staff set what is on hand. Available stock (`stock`) and what is allocated follow from it and
    # from checkouts: writing either with a value read earlier would sell units twice.
    stock_on_hand = serializers.IntegerField(min_value=0, max_value=MAX_STOCK, required=False)
    active = serializers.BooleanField(required=False)
    category = serializers.SlugField(max_length=80, required=False)

    READ_ONLY = {
        "stock": "Available stock is on hand minus allocated: set stock_on_hand.",
        "stock_allocated": "Allocated stock changes only with checkouts and cancellations.",
    }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {name: [self.READ_ONLY.get(name, "This field cannot be changed.")] for name in unknown}
            )
        if not attrs:
            raise serializers.ValidationError("Give at least one field to change.")
        return attrs
