"""Admin of the users service: staff and customers, and refresh tokens (read-only, with revocation)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.db.models import QuerySet
from django.http import HttpRequest

from user_svc.accounts import services
from user_svc.accounts.models import RefreshToken, User, normalize_email

# django-stubs types these as generics; at run time (without django-stubs-ext) they are not subscriptable.
if TYPE_CHECKING:
    _UserCreationFormBase = AdminUserCreationForm[User]
    _UserChangeFormBase = UserChangeForm[User]
    _UserAdminBase = DjangoUserAdmin[User]
    _RefreshTokenAdminBase = admin.ModelAdmin[RefreshToken]
else:
    _UserCreationFormBase = AdminUserCreationForm
    _UserChangeFormBase = UserChangeForm
    _UserAdminBase = DjangoUserAdmin
    _RefreshTokenAdminBase = admin.ModelAdmin


class UserCreationAdminForm(_UserCreationFormBase):
    class Meta:
        model = User
        fields = ("email", "first_name", "last_name")

    def clean_email(self) -> str:
        # Stored lower-case: the model's uniqueness check then catches any case variant.
        return normalize_email(self.cleaned_data["email"])


class UserChangeAdminForm(_UserChangeFormBase):
    class Meta:
        model = User
        fields = "__all__"

    def clean_email(self) -> str:
        return normalize_email(self.cleaned_data["email"])


@admin.register(User)
class UserAdmin(_UserAdminBase):
    form = UserChangeAdminForm
    add_form = UserCreationAdminForm
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Important dates", {"fields": ("last_login", "date_joined", "updated_at")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "first_name", "last_name", "usable_password", "password1", "password2"),
            },
        ),
    )
    readonly_fields = ("last_login", "date_joined", "updated_at")
    list_display = ("email", "first_name", "last_name", "is_staff", "is_active", "date_joined")
    list_filter = ("is_staff", "is_active", "is_superuser")
    search_fields = ("email", "first_name", "last_name")
    ordering = ("email",)
    show_full_result_count = False


@admin.register(RefreshToken)
class RefreshTokenAdmin(_RefreshTokenAdminBase):
    list_display = ("id", "user", "family_id", "usable", "created_at", "expires_at", "used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter), ("used_at", admin.EmptyFieldListFilter))
    search_fields = ("user__email", "=family_id", "=id")
    list_select_related = ("user",)
    ordering = ("-created_at",)
    actions = ("revoke_families",)

    @admin.display(boolean=True, description="usable")
    def usable(self, obj: RefreshToken) -> bool:
        return obj.is_usable

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("accounts.change_refreshtoken")

    @admin.action(description="Revoke the selected tokens' sessions (whole families)", permissions=("revoke",))
    def revoke_families(self, request: HttpRequest, queryset: QuerySet[RefreshToken]) -> None:
        revoked = services.refresh_token_families_revoke(token_ids=list(queryset.values_list("id", flat=True)))
        self.message_user(request, f"{revoked} refresh token(s) revoked.", messages.SUCCESS)
