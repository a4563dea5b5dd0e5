"""Settings every service shares; a service's settings.py star-imports this, then adds its own."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from shopkit.events.contracts import TOPIC_OWNERS
from shopkit.logging import configure_structlog, logging_config
from shopkit.ports import Ports
from shopkit.settings import MACHINE_PASSWORD_MIN_LENGTH, VAR_DIR, env, is_production, require_strong_secret, secret_key

SECRET_KEY = secret_key()
DEBUG = env.bool("DEBUG", default=False)
SHOP_ENV = env.str("SHOP_ENV", default="development")
# Every port of the shop (shopkit.ports; SHOP_<NAME>_PORT overrides one): the defaults below derive from them.
SHOP_PORTS = Ports.from_env()
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])

SHOP_PLATFORM_APPS = [
    # Django's admin with the shop's site (shopkit.admin_site): `admin.site` is a ShopAdminSite.
    "shopkit.admin_site.ShopAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_prometheus",
    "django_structlog",
    "rest_framework",
    "shopkit",
]
INSTALLED_APPS = list(SHOP_PLATFORM_APPS)

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "shopkit.middleware.TraceIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "shopkit.middleware.AdminLoginThrottleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After auth and messages: ends admin sessions the users service no longer vouches for.
    "shopkit.middleware.StaffSessionMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "shopkit.middleware.RequestLogMiddleware",
    # After django-structlog: it answers unhandled exceptions first and logs them exactly once.
    "shopkit.problems.ProblemMiddleware",
    # django-prometheus' After middleware with the request's trace as exemplar (docs/observability.md).
    "shopkit.metrics.PrometheusAfterMiddleware",
    # Last, so a fault's 503 and latency are measured like a view's (shopkit.faults, docs/faults.md).
    "shopkit.faults.FaultMiddleware",
]
# The fault switches this service's HTTP requests obey (shopkit.faults.FAULTS names).
SHOP_HTTP_FAULTS: tuple[str, ...] = ()

# The observability benchmark's reference turns metrics off; everything else keeps them on.
# Off drops django-prometheus' and shopkit's Prometheus middleware alike (as gateway_svc.settings does).
SHOP_METRICS_ENABLED = env.bool("SHOP_METRICS_ENABLED", default=True)
if not SHOP_METRICS_ENABLED:
    MIDDLEWARE = [m for m in MIDDLEWARE if "Prometheus" not in m]
SHOP_BENCH_ENDPOINTS = env.bool("SHOP_BENCH_ENDPOINTS", default=False)
# Async (ASGI) services trace with OpenTelemetry's ASGI middleware instead of the Django one.
SHOP_TRACING_ASGI = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Before the apps' own: shopkit's admin/base_site.html overrides the admin's.
        "DIRS": [Path(__file__).resolve().parent / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
APPEND_SLASH = False

STATIC_URL = "/static/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Request bodies are capped; nothing a customer sends needs more.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=64 * 1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200

# Security headers on every response; HTTPS-only cookies in production.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
# Each service names its session and CSRF cookies after itself in its settings.py: browsers keep
# cookies per host, not per port, so on 127.0.0.1 four admins would otherwise sign each other out.
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=is_production())
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", default=False) else None

# Messages live in the session: the cookie store's one "messages" cookie would be shared by every
# admin on one host (browsers keep cookies per host, not per port).
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# Staff consoles (docs/staff.md). One staff identity, kept in users: every other service's admin
# signs staff in against it and re-checks the session with it; users itself overrides the backend.
AUTHENTICATION_BACKENDS = ["shopkit.admin_auth.UsersServiceBackend"]
SHOP_NAME = env.str("SHOP_NAME", default="Shop")
SHOP_ADMIN_CONSOLES = {
    "users": env.str("USERS_ADMIN_URL", default=f"{SHOP_PORTS.url('users')}/admin/"),
    "products": env.str("PRODUCTS_ADMIN_URL", default=f"{SHOP_PORTS.url('products')}/admin/"),
    "orders": env.str("ORDERS_ADMIN_URL", default=f"{SHOP_PORTS.url('orders')}/admin/"),
    "carts": env.str("CARTS_ADMIN_URL", default=f"{SHOP_PORTS.url('carts')}/admin/"),
}
# How often an admin session asks users whether its staff member still has access, and how long it
# survives without an answer when users is unreachable (then it ends: fail closed).
STAFF_SESSION_CHECK_SECONDS = env.float("STAFF_SESSION_CHECK_SECONDS", default=30.0)
STAFF_SESSION_MAX_UNCHECKED_SECONDS = env.float("STAFF_SESSION_MAX_UNCHECKED_SECONDS", default=60.0)
# The form of the admin's own "change password" page ("" is Django's); users sets one that calls its services.
SHOP_ADMIN_PASSWORD_CHANGE_FORM = ""

# Admin sign-in attempts per client address and per e-mail ("" turns the limit off).
ADMIN_LOGIN_RATE = env.str("ADMIN_LOGIN_RATE", default="10/m")
RATELIMIT_USE_CACHE = "default"
RATELIMIT_IP_META_KEY = env.str("RATELIMIT_IP_META_KEY", default="REMOTE_ADDR")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["shopkit.drf.JWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # One JSON object, bounded, with text PostgreSQL can store: anything else is a 400 (shopkit.parsers).
    "DEFAULT_PARSER_CLASSES": ["shopkit.drf.JSONObjectParser"],
    "EXCEPTION_HANDLER": "shopkit.drf.drf_exception_handler",
    "UNAUTHENTICATED_USER": None,
}

# Tokens: issued by the users service (RS256), verified everywhere with its public key.
USERS_URL = env.str("USERS_URL", default=SHOP_PORTS.url("users"))
JWT_JWKS_URL = env.str("JWT_JWKS_URL", default=f"{USERS_URL}/api/.well-known/jwks.json")
JWT_PUBLIC_KEY = env.str("JWT_PUBLIC_KEY", default="")
JWT_JWKS_TIMEOUT = env.float("JWT_JWKS_TIMEOUT", default=2.0)
JWT_LEEWAY_SECONDS = env.int("JWT_LEEWAY_SECONDS", default=5)
# Key rotation (docs/security.md): a key users stops serving stops verifying within the cache lifetime;
# an unknown kid refreshes early, at most once per interval per process; users down: cached keys serve
# for the stale time more. Tokens living longer than the maximum (exp - iat) are refused whoever signed them.
JWT_JWKS_CACHE_SECONDS = env.float("JWT_JWKS_CACHE_SECONDS", default=300.0)
JWT_JWKS_MIN_REFRESH_SECONDS = env.float("JWT_JWKS_MIN_REFRESH_SECONDS", default=5.0)
JWT_JWKS_STALE_IF_ERROR_SECONDS = env.float("JWT_JWKS_STALE_IF_ERROR_SECONDS", default=600.0)
JWT_MAX_ACCESS_TOKEN_LIFETIME_SECONDS = env.int("JWT_MAX_ACCESS_TOKEN_LIFETIME_SECONDS", default=900)
UPSTREAM_TIMEOUT_SECONDS = env.float("UPSTREAM_TIMEOUT_SECONDS", default=3.0)

KAFKA_BOOTSTRAP_SERVERS = env.str("KAFKA_BOOTSTRAP_SERVERS", default=f"127.0.0.1:{SHOP_PORTS.kafka}")
# Kafka principal of this service (docs/security.md): SASL/SCRAM in the full stack, where ACLs let each
# service write only its own topics; the embedded broker on loopback is PLAINTEXT. Production refuses PLAINTEXT.
KAFKA_SECURITY_PROTOCOL = env.str("KAFKA_SECURITY_PROTOCOL", default="PLAINTEXT")
# Only for a broker that cannot authenticate anyone (the stack test's Tansu stand-in, docs/security.md):
# production then accepts PLAINTEXT, with a warning at every start. Never set it against a real Kafka.
KAFKA_PLAINTEXT_BROKER = env.bool("KAFKA_PLAINTEXT_BROKER", default=False)
KAFKA_SASL_MECHANISM = env.str("KAFKA_SASL_MECHANISM", default="SCRAM-SHA-512")
KAFKA_SASL_USERNAME = env.str("KAFKA_SASL_USERNAME", default="")
KAFKA_SASL_PASSWORD = env.str("KAFKA_SASL_PASSWORD", default="")
if KAFKA_SASL_PASSWORD:
    require_strong_secret("KAFKA_SASL_PASSWORD", KAFKA_SASL_PASSWORD, min_length=MACHINE_PASSWORD_MIN_LENGTH)
# Events (shopkit.events): outbox relay and consumers; METRICS_PORT serves /metrics of worker processes.
METRICS_PORT = env.int("METRICS_PORT", default=0)
# Where worker metrics listen: loopback unless the deployment needs a scraper on the network (compose: 0.0.0.0).
METRICS_BIND = env.str("METRICS_BIND", default="127.0.0.1")
SHOP_EVENT_TOPICS = env.list("SHOP_EVENT_TOPICS", default=["shop.users", "shop.orders"])
KAFKA_TOPIC_PARTITIONS = env.int("KAFKA_TOPIC_PARTITIONS", default=3)
KAFKA_TOPIC_REPLICATION_FACTOR = env.int("KAFKA_TOPIC_REPLICATION_FACTOR", default=1)
KAFKA_CONSUMER_SESSION_TIMEOUT_MS = env.int("KAFKA_CONSUMER_SESSION_TIMEOUT_MS", default=6000)
OUTBOX_POLL_INTERVAL = env.float("OUTBOX_POLL_INTERVAL", default=0.2)
OUTBOX_BATCH_SIZE = env.int("OUTBOX_BATCH_SIZE", default=100)
OUTBOX_DELIVERY_TIMEOUT_SECONDS = env.float("OUTBOX_DELIVERY_TIMEOUT_SECONDS", default=10.0)
OUTBOX_RETENTION_DAYS = env.int("OUTBOX_RETENTION_DAYS", default=7)
EVENT_MAX_ATTEMPTS = env.int("EVENT_MAX_ATTEMPTS", default=3)
EVENT_RETRY_BACKOFF_SECONDS = env.float("EVENT_RETRY_BACKOFF_SECONDS", default=0.5)
# An outbox row the broker refuses (too large, not authorized) is retried with a doubling wait from
# OUTBOX_RETRY_BACKOFF_SECONDS, then marked dead after OUTBOX_MAX_ATTEMPTS (docs/runbooks/OutboxDeadRows.md).
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=8)
OUTBOX_RETRY_BACKOFF_SECONDS = env.float("OUTBOX_RETRY_BACKOFF_SECONDS", default=1.0)
# A handler failing on a database error is redelivered with a doubling wait (at most 30 s) from
# EVENT_DB_RETRY_BACKOFF_SECONDS, then dead-lettered after EVENT_DB_MAX_ATTEMPTS (about 2.5 minutes).
EVENT_DB_MAX_ATTEMPTS = env.int("EVENT_DB_MAX_ATTEMPTS", default=10)
EVENT_DB_RETRY_BACKOFF_SECONDS = env.float("EVENT_DB_RETRY_BACKOFF_SECONDS", default=1.0)
# Processed-event ids are kept longer than Kafka keeps a topic or its dead letters (7 days by
# default), so a redelivered or replayed event is always recognised as a duplicate.
PROCESSED_EVENT_RETENTION_DAYS = env.int("PROCESSED_EVENT_RETENTION_DAYS", default=30)
EVENT_PURGE_INTERVAL_SECONDS = env.float("EVENT_PURGE_INTERVAL_SECONDS", default=3600.0)
# A service with an event consumer lists these in its SHOP_PERIODIC_TASKS (run by the consumer, shopkit.periodic);
# an outbox relay purges its sent rows itself, every EVENT_PURGE_INTERVAL_SECONDS.
SHOP_EVENTS_PERIODIC_TASKS = [
    ("shopkit.events.tasks.purge_sent_outbox_rows", EVENT_PURGE_INTERVAL_SECONDS),
    ("shopkit.events.tasks.purge_processed_events", EVENT_PURGE_INTERVAL_SECONDS),
]
# The owner of each topic: consumers refuse (dead-letter) an event whose CloudEvents `source` is not
# its topic's owner. A contract (shopkit.events.contracts), not deployment configuration, so not read from
# the environment.
SHOP_EVENT_TOPIC_OWNERS = dict(TOPIC_OWNERS)
PRODUCTS_GRPC_TARGET = env.str("PRODUCTS_GRPC_TARGET", default=f"127.0.0.1:{SHOP_PORTS.products_grpc}")
GRPC_DEADLINE_SECONDS = env.float("GRPC_DEADLINE_SECONDS", default=2.0)
# Readiness of products' callers (shopkit.grpc.readiness): Health/Check's deadline (at most 2 s) and how long
# its answer is reused, so a burst of probes is one call.
PRODUCTS_GRPC_READY_TIMEOUT_SECONDS = env.float("PRODUCTS_GRPC_READY_TIMEOUT_SECONDS", default=1.0)
PRODUCTS_GRPC_READY_CACHE_SECONDS = env.float("PRODUCTS_GRPC_READY_CACHE_SECONDS", default=3.0)
# gRPC service identity (shopkit.grpc.tls, docs/security.md): mutual TLS with the stack's CA, always.
# Empty files mean GRPC_TLS_DIR/ca.crt and GRPC_TLS_DIR/<SERVICE_NAME>.crt|.key, which `make run` creates.
GRPC_TLS_DIR = env.str("GRPC_TLS_DIR", default=str(VAR_DIR / "grpc"))
GRPC_TLS_CA_FILE = env.str("GRPC_TLS_CA_FILE", default="")
GRPC_TLS_CERT_FILE = env.str("GRPC_TLS_CERT_FILE", default="")
GRPC_TLS_KEY_FILE = env.str("GRPC_TLS_KEY_FILE", default="")

PROMETHEUS_METRIC_NAMESPACE = ""
PROMETHEUS_EXPORT_MIGRATIONS = False

LOG_FORMAT = env.str("LOG_FORMAT", default="console")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
configure_structlog()
LOGGING = logging_config(log_format=LOG_FORMAT, level=LOG_LEVEL)
# Paths whose successful requests are logged at DEBUG only: probes and scrapes (shopkit.middleware).
LOG_QUIET_PATHS = env.list("LOG_QUIET_PATHS", default=["/health/live", "/health/ready", "/metrics"])
DJANGO_STRUCTLOG_CELERY_ENABLED = False
DJANGO_STRUCTLOG_USER_ID_FIELD = "pk"
# One access line per request (`request_finished`: method, path, status, user, trace and span ids);
# `request_started` is DEBUG unless LOG_REQUEST_STARTED=true (halves per-request logging, see
# docs/BENCHMARKS.md; turn it on to find requests that never finish).
DJANGO_STRUCTLOG_STATUS_START_LOG_LEVEL = (
    logging.INFO if env.bool("LOG_REQUEST_STARTED", default=False) else logging.DEBUG
)
