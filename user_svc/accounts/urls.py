"""URL routes of the accounts API (mounted under /api/)."""

from __future__ import annotations

from django.urls import path

from user_svc.accounts import apis

urlpatterns = [
    path("auth/register", apis.RegisterApi.as_view(), name="auth-register"),
    path("auth/login", apis.LoginApi.as_view(), name="auth-login"),
    path("auth/refresh", apis.RefreshApi.as_view(), name="auth-refresh"),
    path("auth/logout", apis.LogoutApi.as_view(), name="auth-logout"),
    path("auth/introspect", apis.IntrospectApi.as_view(), name="auth-introspect"),
    path("users/me", apis.MeApi.as_view(), name="users-me"),
    path("users/me/password", apis.PasswordChangeApi.as_view(), name="users-me-password"),
    path(".well-known/jwks.json", apis.JwksApi.as_view(), name="jwks"),
]
