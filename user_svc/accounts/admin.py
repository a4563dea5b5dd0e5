"""Admin of the users service: staff and customers, and refresh tokens (read-only, with revocation).

Every change goes through the accounts services, as the API's do: a user created here publishes
`user.registered`; a new password, e-mail, deactivation, demotion or deletion revokes the person's
refresh tokens, which ends their sessions in the other services' admins (shopkit.staff_session).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.admin.forms import AdminPasswordChangeForm as OwnPasswordChangeForm
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm, AdminUserCreationForm, UserChangeForm
from django.db.models import QuerySet
from django.forms import Form, ModelForm
from django.http import HttpRequest

from user_svc.accounts import services
from user_svc.accounts.models import RefreshToken, User, normalize_email

# django-stubs types these as generics; at run time (without django-stubs-ext) they are not subscriptable.
if TYPE_CHECKING:
    _UserCreationFormBase = AdminUserCreationForm[User]
    _UserChangeFormBase = UserChangeForm[User]
    _PasswordSetFormBase = AdminPasswordChangeForm[User]
    _UserAdminBase = DjangoUserAdmin[User]
    _RefreshTokenAdminBase = admin.ModelAdmin[RefreshToken]
else:
    _UserCreationFormBase = AdminUserCreationForm
    _UserChangeFormBase = UserChangeForm
    _PasswordSetFormBase = AdminPasswordChangeForm
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


class PasswordSetAdminForm(_PasswordSetFormBase):
    """A staff member sets someone's password (or disables password sign-in): `user_password_set`."""

    def save(self, commit: bool = True) -> User:
        password = self.cleaned_data["password1"] if self.cleaned_data["set_usable_password"] else None
        # The view then calls update_session_auth_hash(form.user): it must see the new hash.
        self.user = services.user_password_set(user_id=self.user.pk, password=password)
        return self.user


class OwnPasswordChangeAdminForm(OwnPasswordChangeForm):
    """The signed-in staff member changes their own password (the admin's "Change password" page)."""

    def save(self, commit: bool = True) -> Any:
        services.user_password_change(
            user_id=self.user.pk,
            current_password=self.cleaned_data["old_password"],
            new_password=self.cleaned_data["new_password1"],
        )
        # The view keeps this session signed in with the new hash (update_session_auth_hash).
        self.user.refresh_from_db(fields=["password"])
        return self.user


def _adopt(obj: User, stored: User) -> None:
    """The admin goes on (log entry, redirect) with the object it built: make it the one the service stored."""
    for field in User._meta.concrete_fields:
        setattr(obj, field.attname, getattr(stored, field.attname))
    obj._state.adding = False
    obj._state.db = stored._state.db


@admin.register(User)
class UserAdmin(_UserAdminBase):
    form = UserChangeAdminForm
    add_form = UserCreationAdminForm
    change_password_form = PasswordSetAdminForm
    actions = ("deactivate_users",)
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

    def save_model(self, request: HttpRequest, obj: User, form: Form, change: bool) -> None:
        if not change:
            password = form.cleaned_data["password1"] if form.cleaned_data["set_usable_password"] else None
            created = services.user_create(
                email=obj.email, password=password, first_name=obj.first_name, last_name=obj.last_name
            )
            _adopt(obj, created)
            return
        # The form has applied its fields to obj (not saved); many-to-many values are only in cleaned_data.
        updated = services.user_update(
            user_id=obj.pk,
            email=obj.email,
            first_name=obj.first_name,
            last_name=obj.last_name,
            is_active=obj.is_active,
            is_staff=obj.is_staff,
            is_superuser=obj.is_superuser,
            groups=form.cleaned_data.get("groups"),
            user_permissions=form.cleaned_data.get("user_permissions"),
        )
        _adopt(obj, updated)

    def save_related(self, request: HttpRequest, form: ModelForm[User], formsets: Any, change: bool) -> None:
        # user_update has set the groups and permissions; the add form has none.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[Any, Any, set[str], Any]:
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        # Refresh tokens are never deleted on their own (read-only here) but go with their account.
        perms_needed.discard(str(RefreshToken._meta.verbose_name))
        return deleted, model_count, perms_needed, protected

    def delete_model(self, request: HttpRequest, obj: User) -> None:
        services.user_delete(user_id=obj.pk)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user_id in queryset.values_list("pk", flat=True):
            services.user_delete(user_id=user_id)

    @admin.action(description="Deactivate the selected users (ends their sessions everywhere)", permissions=("change",))
    def deactivate_users(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        user_ids = list(queryset.filter(is_active=True).values_list("pk", flat=True))
        for user_id in user_ids:
            services.user_deactivate(user_id=user_id)
        self.message_user(request, f"{len(user_ids)} user(s) deactivated.", messages.SUCCESS)


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
