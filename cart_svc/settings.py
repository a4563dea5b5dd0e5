"""Settings of the carts service: the shared platform settings plus this service's own."""

from shopkit.base_settings import *  # noqa: F403
from shopkit.base_settings import INSTALLED_APPS, SHOP_EVENTS_PERIODIC_TASKS, SHOP_PORTS
from shopkit.settings import cache, database

SERVICE_NAME = "carts"
SERVICE_PORT = SHOP_PORTS.carts
ROOT_URLCONF = "cart_svc.urls"
WSGI_APPLICATION = "cart_svc.wsgi.application"
# Cookies of their own (shopkit.base_settings): every admin runs on one host in development.
SESSION_COOKIE_NAME = f"shop_{SERVICE_NAME}_session"
CSRF_COOKIE_NAME = f"shop_{SERVICE_NAME}_csrftoken"

INSTALLED_APPS = [*INSTALLED_APPS, "shopkit.events", "cart_svc.carts"]

DATABASES = {"default": database("carts")}
CACHES = {"default": cache("carts")}
# Ready only when products' gRPC server answers on the channel this service calls it on (mutual TLS,
# PRODUCTS_GRPC_TARGET): a service that cannot reach products is not ready, whatever its own state.
SHOP_READY_CHECKS = {"products_grpc": "shopkit.grpc.readiness.check_products_grpc"}

# Periodic jobs, run by the event consumer process (shopkit.periodic).
SHOP_PERIODIC_TASKS = [*SHOP_EVENTS_PERIODIC_TASKS]
