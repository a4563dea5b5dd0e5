"""Settings of the carts service: the shared platform settings plus this service's own."""

from shopkit.base_settings import *  # noqa: F403
from shopkit.base_settings import INSTALLED_APPS
from shopkit.settings import cache, database

SERVICE_NAME = "carts"
SERVICE_PORT = 5003
ROOT_URLCONF = "cart_svc.urls"
WSGI_APPLICATION = "cart_svc.wsgi.application"

INSTALLED_APPS = [*INSTALLED_APPS, "shopkit.events", "cart_svc.carts"]

DATABASES = {"default": database("carts")}
CACHES = {"default": cache("carts")}

# One staff identity: the admin signs staff in against the users service (no passwords kept here).
AUTHENTICATION_BACKENDS = ["shopkit.admin_auth.UsersServiceBackend"]
