"""Settings of the products service: the shared platform settings plus this service's own."""

from shopkit.base_settings import *  # noqa: F403
from shopkit.base_settings import INSTALLED_APPS, SHOP_EVENTS_PERIODIC_TASKS, SHOP_PORTS
from shopkit.grpc.policy import PRODUCTS_CALLERS
from shopkit.settings import cache, database, env, is_production

SERVICE_NAME = "products"
SERVICE_PORT = SHOP_PORTS.products
ROOT_URLCONF = "product_svc.urls"
WSGI_APPLICATION = "product_svc.wsgi.application"
# Cookies of their own (shopkit.base_settings): every admin runs on one host in development.
SESSION_COOKIE_NAME = f"shop_{SERVICE_NAME}_session"
CSRF_COOKIE_NAME = f"shop_{SERVICE_NAME}_csrftoken"

INSTALLED_APPS = [*INSTALLED_APPS, "django_filters", "shopkit.events", "product_svc.catalog"]

DATABASES = {"default": database("products")}
# Shared by every process of the service (Redis, or in embedded mode a file cache under var/cache/):
# the gRPC server and the event consumer change stock in other processes and must invalidate the
# catalog reads the web workers cache, which a per-process memory cache could not do.
CACHES = {"default": cache("products", shared=True)}

CATALOG_CACHE_ENABLED = env.bool(
    "CATALOG_CACHE_ENABLED", default=not CACHES["default"]["BACKEND"].lower().endswith(("dummycache", "locmemcache"))
)
CATALOG_CACHE_SECONDS = env.int("CATALOG_CACHE_SECONDS", default=30)
# How long a process may reuse the catalog version it read. With the embedded file cache a change made
# by another process (the gRPC server reserving stock) shows within 0.1 s and a cached read costs one
# file read instead of two; with Redis every read asks (a change shows at once).
CATALOG_VERSION_REUSE_SECONDS = env.float(
    "CATALOG_VERSION_REUSE_SECONDS", default=0.1 if "filebased" in CACHES["default"]["BACKEND"].lower() else 0.0
)

# A reservation no confirmed order claims within this time gives its units back (a caller that crashed
# between reserving and storing its order, or never stored one). Longer than the orders service's
# ORDER_PENDING_EXPIRY_SECONDS (900), so an order still being resumed keeps its stock. The event
# consumer runs the check every RESERVATION_EXPIRY_CHECK_SECONDS.
RESERVATION_HOLD_SECONDS = max(60, env.int("RESERVATION_HOLD_SECONDS", default=1800))
SHOP_PERIODIC_TASKS = [
    ("product_svc.catalog.tasks.expire_reservations", env.float("RESERVATION_EXPIRY_CHECK_SECONDS", default=60.0)),
    *SHOP_EVENTS_PERIODIC_TASKS,
]

# gRPC server (python -m product_svc.grpc_server); its /metrics port defaults to SHOP_PORTS' (9400) (0 turns it off).
PRODUCTS_GRPC_BIND = env.str("PRODUCTS_GRPC_BIND", default="127.0.0.1")
PRODUCTS_GRPC_PORT = env.int("PRODUCTS_GRPC_PORT", default=SHOP_PORTS.products_grpc)
PRODUCTS_GRPC_WORKERS = env.int("PRODUCTS_GRPC_WORKERS", default=10)
PRODUCTS_GRPC_GRACE_SECONDS = env.float("PRODUCTS_GRPC_GRACE_SECONDS", default=5.0)
PRODUCTS_GRPC_METRICS_PORT = env.int("METRICS_PORT", default=SHOP_PORTS.products_grpc_metrics)
# Which services may call each method, by the identity in their client certificate (shopkit.grpc.policy).
# Reflection lists the methods only outside production.
PRODUCTS_GRPC_CALLERS = PRODUCTS_CALLERS
PRODUCTS_GRPC_REFLECTION = not is_production()
# Fault switches of the products HTTP API (shopkit.faults, docs/faults.md); gRPC's are in catalog.servicer.
SHOP_HTTP_FAULTS = ("products-http-latency", "products-errors", "memory-leak")
