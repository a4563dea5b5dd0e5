"""Settings of the orders service: the shared platform settings plus this service's own."""

from shopkit.base_settings import *  # noqa: F403
from shopkit.base_settings import INSTALLED_APPS, SHOP_PORTS
from shopkit.settings import cache, database, env

SERVICE_NAME = "orders"
SERVICE_PORT = SHOP_PORTS.orders
ROOT_URLCONF = "order_svc.urls"
WSGI_APPLICATION = "order_svc.wsgi.application"
# Cookies of their own (shopkit.base_settings): every admin runs on one host in development.
SESSION_COOKIE_NAME = f"shop_{SERVICE_NAME}_session"
CSRF_COOKIE_NAME = f"shop_{SERVICE_NAME}_csrftoken"

INSTALLED_APPS = [*INSTALLED_APPS, "shopkit.events", "order_svc.orders"]

DATABASES = {"default": database("orders")}
CACHES = {"default": cache("orders")}
# Ready only when products' gRPC server answers on the channel this service calls it on (mutual TLS,
# PRODUCTS_GRPC_TARGET): a service that cannot reach products is not ready, whatever its own state.
SHOP_READY_CHECKS = {"products_grpc": "shopkit.grpc.readiness.check_products_grpc"}

# Checkout reads the caller's cart from the carts service (with the caller's own token).
CARTS_URL = env.str("CARTS_URL", default=SHOP_PORTS.url("carts"))
CARTS_TIMEOUT_SECONDS = env.float("CARTS_TIMEOUT_SECONDS", default=2.0)

# A checkout still pending after this long lost its answer (or its process): its stock is given back
# and it fails as abandoned, by the orders-expirer process (`manage.py expire_pending_orders --every 60`).
ORDER_PENDING_EXPIRY_SECONDS = max(60, env.int("ORDER_PENDING_EXPIRY_SECONDS", default=900))
# Fault switches of the orders HTTP API (shopkit.faults, docs/faults.md); carts-unavailable is in orders.carts.
SHOP_HTTP_FAULTS = ("orders-db-slow",)
