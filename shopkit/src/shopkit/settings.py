"""Settings helpers: every value comes from the environment, with defaults that make `make run` work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import environ

env = environ.Env()

REPO_ROOT = Path(__file__).resolve().parents[3]
VAR_DIR = Path(env.str("SHOP_VAR_DIR", default=str(REPO_ROOT / "var")))

# The development-only default: production (SHOP_ENV=production) refuses to start without a real one.
_DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me"  # noqa: S105


def is_production() -> bool:
    return env.str("SHOP_ENV", default="development") == "production"


def secret_key() -> str:
    value = env.str("DJANGO_SECRET_KEY", default="")
    if value:
        return value
    if is_production():
        raise environ.ImproperlyConfigured("DJANGO_SECRET_KEY must be set when SHOP_ENV=production")
    return _DEV_SECRET_KEY


def database(service: str) -> dict[str, Any]:
    """`DATABASE_URL` (PostgreSQL in the full stack) or a WAL-mode SQLite file under var/."""
    url = env.str("DATABASE_URL", default="")
    if url:
        config: dict[str, Any] = env.db_url_config(url)
        if config["ENGINE"] == "django.db.backends.postgresql":
            config["ENGINE"] = "django_prometheus.db.backends.postgresql"
        config.setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
        config["CONN_HEALTH_CHECKS"] = True
        options = config.setdefault("OPTIONS", {})
        options.setdefault("connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=3))
        if test_name := env.str("DATABASE_TEST_NAME", default=""):
            config["TEST"] = {"NAME": test_name}
        return config
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    return {
        "ENGINE": "django_prometheus.db.backends.sqlite3",
        "NAME": str(VAR_DIR / f"{service}.sqlite3"),
        # Keep each thread's connection: opening one (and its PRAGMAs) per request is measurable.
        "CONN_MAX_AGE": env.int("DATABASE_CONN_MAX_AGE", default=60),
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {
            # Several processes (web workers, relay, consumer) share one file.
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
        "TEST": {"NAME": str(VAR_DIR / f"test_{service}.sqlite3")},
    }


def cache(service: str, *, shared: bool = False) -> dict[str, Any]:
    """`CACHE_URL` (Redis in the full stack), or without it a per-process local-memory cache; with
    `shared`, a file cache under `var/cache/<service>` that every process of the service reads and
    invalidates (a service whose other processes change what its web workers cache)."""
    url = env.str("CACHE_URL", default="")
    if not url and shared:
        url = f"file://{VAR_DIR / 'cache' / service}"
    if url.startswith("file://"):
        return {
            "BACKEND": "django_prometheus.cache.backends.filebased.FileBasedCache",
            "LOCATION": url.removeprefix("file://"),
            "TIMEOUT": env.int("CACHE_TIMEOUT", default=300),
            "OPTIONS": {"MAX_ENTRIES": 5000},
        }
    if url == "dummy://":
        # No caching at all (the cache benchmark's reference).
        return {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}
    if url.startswith(("redis://", "rediss://")):
        return {
            "BACKEND": "django_prometheus.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default=service),
            "TIMEOUT": env.int("CACHE_TIMEOUT", default=300),
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
                # Redis down must degrade to the database, never to a 500.
                "IGNORE_EXCEPTIONS": True,
            },
        }
    return {
        "BACKEND": "django_prometheus.cache.backends.locmem.LocMemCache",
        "LOCATION": service,
        "TIMEOUT": env.int("CACHE_TIMEOUT", default=300),
    }
