"""Settings of the users service: the shared platform settings plus this service's own."""

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from shopkit.base_settings import *  # noqa: F403
from shopkit.base_settings import INSTALLED_APPS, JWT_MAX_ACCESS_TOKEN_LIFETIME_SECONDS, SHOP_PORTS
from shopkit.settings import (
    PERSON_PASSWORD_MIN_LENGTH,
    VAR_DIR,
    cache,
    database,
    env,
    is_production,
    require_strong_secret,
)
from user_svc.accounts.keys import verification_pems

SERVICE_NAME = "users"
SERVICE_PORT = SHOP_PORTS.users
ROOT_URLCONF = "user_svc.urls"
WSGI_APPLICATION = "user_svc.wsgi.application"
# Cookies of their own (shopkit.base_settings): every admin runs on one host in development.
SESSION_COOKIE_NAME = f"shop_{SERVICE_NAME}_session"
CSRF_COOKIE_NAME = f"shop_{SERVICE_NAME}_csrftoken"

INSTALLED_APPS = [*INSTALLED_APPS, "shopkit.events", "user_svc.accounts"]
AUTH_USER_MODEL = "accounts.User"
# The staff identity lives here: Django's own backend checks passwords (every other service asks this
# one, shopkit.admin_auth) and Django's own session checks end sessions; the admin's "change password"
# page goes through the accounts services.
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
SHOP_ADMIN_PASSWORD_CHANGE_FORM = "user_svc.accounts.admin.OwnPasswordChangeAdminForm"  # noqa: S105  # pragma: allowlist secret

DATABASES = {"default": database("users")}
CACHES = {"default": cache("users")}

# Tokens: this service signs them (RS256) with the private key; JWT_PUBLIC_KEY is its public half (and
# the previous key's during a rotation), so it verifies its own access tokens without fetching its JWKS.
JWT_PRIVATE_KEY_FILE = Path(env.str("JWT_PRIVATE_KEY_FILE", default=str(VAR_DIR / "jwt" / "private.pem")))
# The key rotated out (public PEM; missing or empty: none), served in the JWKS and accepted until dropped.
JWT_PREVIOUS_PUBLIC_KEY_FILE = Path(
    env.str("JWT_PREVIOUS_PUBLIC_KEY_FILE", default=str(VAR_DIR / "jwt" / "previous_public.pem"))
)
# In development a missing key is created here; in production it must be mounted (checked at web start).
JWT_PUBLIC_KEY = env.str("JWT_PUBLIC_KEY", default="") or verification_pems(
    JWT_PRIVATE_KEY_FILE, JWT_PREVIOUS_PUBLIC_KEY_FILE, create=not is_production()
)
JWT_ACCESS_TTL_SECONDS = env.int("JWT_ACCESS_TTL_SECONDS", default=300)
if JWT_ACCESS_TTL_SECONDS > JWT_MAX_ACCESS_TOKEN_LIFETIME_SECONDS:
    # Every verifier would refuse such tokens: fail at start rather than issue them.
    raise ImproperlyConfigured(
        f"JWT_ACCESS_TTL_SECONDS ({JWT_ACCESS_TTL_SECONDS}) exceeds JWT_MAX_ACCESS_TOKEN_LIFETIME_SECONDS "
        f"({JWT_MAX_ACCESS_TOKEN_LIFETIME_SECONDS}) that verifiers accept"
    )
JWT_REFRESH_TTL_SECONDS = env.int("JWT_REFRESH_TTL_SECONDS", default=14 * 24 * 3600)

# Demo staff account (seed_demo): documented development defaults; production has none, so seed_demo
# refuses to run there unless both are set. In production they bootstrap the first staff superuser
# (and nothing else: no demo customer), so the password must be a real one.
SHOP_DEMO_STAFF_EMAIL = env.str("SHOP_DEMO_STAFF_EMAIL", default="" if is_production() else "staff@example.com")
SHOP_DEMO_STAFF_PASSWORD = env.str(
    "SHOP_DEMO_STAFF_PASSWORD",
    default="" if is_production() else "staff-demo-pass",
)
if SHOP_DEMO_STAFF_PASSWORD:
    require_strong_secret("SHOP_DEMO_STAFF_PASSWORD", SHOP_DEMO_STAFF_PASSWORD, min_length=PERSON_PASSWORD_MIN_LENGTH)
