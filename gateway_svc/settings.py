"""Settings of the gateway service: the shared platform settings minus the database and admin, plus routing."""

import ipaddress

from shopkit.base_settings import *  # noqa: F403
from shopkit.base_settings import SHOP_METRICS_ENABLED, SHOP_PORTS
from shopkit.settings import cache, env

SERVICE_NAME = "gateway"
SHOP_TRACING_ASGI = True  # asgi.py wraps the app in OpenTelemetry's ASGI middleware
SERVICE_PORT = SHOP_PORTS.gateway
ROOT_URLCONF = "gateway_svc.urls"
WSGI_APPLICATION = "gateway_svc.wsgi.application"
ASGI_APPLICATION = "gateway_svc.asgi.application"

# Stateless: no database, no admin, no sessions, no users: neither DRF nor django.contrib.auth and
# contenttypes (shopkit keeps what needs DRF in shopkit.drf, which the gateway never imports).
INSTALLED_APPS = [
    "django_prometheus",
    "django_structlog",
    "corsheaders",
    "shopkit",
    "gateway_svc",
]
DATABASES: dict[str, dict[str, object]] = {}
CACHES = {"default": cache("gateway")}

# Every middleware here is async-capable, so a request never hops to Django's one sync thread
# (whitenoise, sessions, auth, CSRF and messages are left out: the gateway serves JSON only).
# Django's and django-prometheus' middleware with their (I/O-free) hooks run inline on the event loop
# instead of one thread hop per hook per request (gateway_svc/inline_middleware.py).
MIDDLEWARE = [
    "gateway_svc.inline_middleware.PrometheusBeforeMiddleware",
    "shopkit.middleware.TraceIdMiddleware",
    "gateway_svc.inline_middleware.SecurityMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "gateway_svc.middleware.BodyLimitMiddleware",
    "gateway_svc.inline_middleware.CommonMiddleware",
    "gateway_svc.inline_middleware.XFrameOptionsMiddleware",
    "gateway_svc.inline_middleware.RequestLogMiddleware",
    "shopkit.problems.ProblemMiddleware",
    "gateway_svc.inline_middleware.PrometheusAfterMiddleware",
    "shopkit.faults.FaultMiddleware",
]
SHOP_HTTP_FAULTS = ("gateway-cpu-burn",)
if not SHOP_METRICS_ENABLED:
    MIDDLEWARE = [m for m in MIDDLEWARE if "Prometheus" not in m]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    },
]

# Downstream services (docs/contracts.md); each serves the public paths under /api/.
USERS_URL = env.str("USERS_URL", default=SHOP_PORTS.url("users"))
PRODUCTS_URL = env.str("PRODUCTS_URL", default=SHOP_PORTS.url("products"))
ORDERS_URL = env.str("ORDERS_URL", default=SHOP_PORTS.url("orders"))
CARTS_URL = env.str("CARTS_URL", default=SHOP_PORTS.url("carts"))
UPSTREAM_CONNECT_TIMEOUT_SECONDS = env.float("UPSTREAM_CONNECT_TIMEOUT_SECONDS", default=1.0)
UPSTREAM_TIMEOUT_SECONDS = env.float("UPSTREAM_TIMEOUT_SECONDS", default=3.0)
UPSTREAM_MAX_CONNECTIONS = env.int("UPSTREAM_MAX_CONNECTIONS", default=100)
UPSTREAM_MAX_KEEPALIVE = env.int("UPSTREAM_MAX_KEEPALIVE", default=20)
# Idempotent GETs are retried on connection errors only (never on timeouts: the work may be running).
UPSTREAM_GET_ATTEMPTS = env.int("UPSTREAM_GET_ATTEMPTS", default=3)
UPSTREAM_HEALTH_TIMEOUT_SECONDS = env.float("UPSTREAM_HEALTH_TIMEOUT_SECONDS", default=1.0)
# Health checks fan out to every downstream: one fan-out at a time per process, its result reused this long.
HEALTH_CACHE_SECONDS = env.float("HEALTH_CACHE_SECONDS", default=1.0)
# A circuit per upstream: opens after this many consecutive failures, tries again after the reset timeout.
CIRCUIT_FAIL_MAX = env.int("CIRCUIT_FAIL_MAX", default=5)
CIRCUIT_RESET_SECONDS = env.float("CIRCUIT_RESET_SECONDS", default=10.0)

# Rate limits ("<n>/<s|m|h|d>"; "" turns one off). Counters live in the default cache (Redis in the
# full stack); when the cache is unreachable the gateway fails open and logs it.
RATE_LIMIT_ENABLED = env.bool("RATE_LIMIT_ENABLED", default=True)
RATE_LIMIT_LOGIN = env.str("RATE_LIMIT_LOGIN", default="10/m")
RATE_LIMIT_LOGIN_ACCOUNT = env.str("RATE_LIMIT_LOGIN_ACCOUNT", default="5/m")
RATE_LIMIT_REGISTER = env.str("RATE_LIMIT_REGISTER", default="5/m")
RATE_LIMIT_REFRESH = env.str("RATE_LIMIT_REFRESH", default="30/m")
RATE_LIMIT_CHECKOUT = env.str("RATE_LIMIT_CHECKOUT", default="10/m")
RATE_LIMIT_DEFAULT = env.str("RATE_LIMIT_DEFAULT", default="300/m")
RATE_LIMIT_HEALTH = env.str("RATE_LIMIT_HEALTH", default="60/m")
RATELIMIT_ENABLE = RATE_LIMIT_ENABLED
RATELIMIT_FAIL_OPEN = True

# Addresses or CIDRs of the proxies in front of the gateway (Caddy's network in the full stack): only their
# X-Forwarded-For names the client (gateway_svc/edge.py). Empty (make run): the connection's own address.
# uvicorn runs with --no-proxy-headers so that this is the only place the decision is made.
# Parsed here so that a malformed entry stops the gateway at start, naming the value.
TRUSTED_PROXIES = [
    str(ipaddress.ip_network(proxy.strip(), strict=False)) for proxy in env.list("TRUSTED_PROXIES", default=[])
]
# django-structlog logs the client address through ipware: the one gateway_svc/edge.py decided on.
IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)

CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_ALLOW_HEADERS = ["accept", "authorization", "content-type", "idempotency-key", "x-request-id"]
CORS_EXPOSE_HEADERS = ["X-Trace-Id", "Retry-After"]
CORS_URLS_REGEX = r"^/api/.*$"
