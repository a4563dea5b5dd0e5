"""Settings helpers: every value comes from the environment, with defaults that make `make run` work."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import environ

env = environ.Env()

REPO_ROOT = Path(__file__).resolve().parents[3]
VAR_DIR = Path(env.str("SHOP_VAR_DIR", default=str(REPO_ROOT / "var")))

# The development-only default: production (SHOP_ENV=production) refuses to start without a real one.
_DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me"  # noqa: S105


# Minimum lengths of production secrets, by who uses them:
# - Django's SECRET_KEY signs sessions and CSRF tokens: 50 characters with at least 5 distinct ones,
#   the threshold of Django's own `check --deploy` (security.W009).
SECRET_KEY_MIN_LENGTH = 50
# - Passwords only machines use (PostgreSQL, Redis): nobody types them, so 16 random characters
#   (96 bits from base64, 64 from hex) cost nothing and put online and offline guessing out of reach.
MACHINE_PASSWORD_MIN_LENGTH = 16
# - A person's password (the staff superuser seed_demo creates): 15 characters, NIST SP 800-63B-4's
#   minimum for a password that is the only factor.
PERSON_PASSWORD_MIN_LENGTH = 15
_MIN_DISTINCT_CHARACTERS = 5
# compose/.env.example's values ("replace-with-...", "change-me-...") and the usual stand-ins, compared
# without case, digits or punctuation: "Change_Me-2024" is "changeme".
_PLACEHOLDER_MARKERS = ("changeme", "replacewith", "replaceme", "placeholder", "example", "devonly", "insecure")
_PLACEHOLDER_WORDS = frozenset(
    {"password", "passwd", "secret", "changeit", "default", "admin", "root", "test", "letmein", "qwerty", "shop"}
)


def is_production() -> bool:
    return env.str("SHOP_ENV", default="development") == "production"


_LEET = str.maketrans("@4310$5!7", "aaeiossit")


def _placeholder(value: str) -> bool:
    lowered = value.lower()
    # As written ("Password123!" is "password") and read back from digits ("p@ssw0rd" is "password").
    for letters in (re.sub(r"[^a-z]", "", lowered), re.sub(r"[^a-z]", "", lowered.translate(_LEET))):
        if letters in _PLACEHOLDER_WORDS or any(marker in letters for marker in _PLACEHOLDER_MARKERS):
            return True
    return False


def require_strong_secret(name: str, value: str, *, min_length: int) -> None:
    """In production, refuse a placeholder or a too-short secret, naming the variable (never the value)."""
    if not is_production():
        return
    if _placeholder(value):
        raise environ.ImproperlyConfigured(
            f"{name} is a placeholder, not a secret (SHOP_ENV=production): set a random value, "
            "e.g. `openssl rand -hex 32`"
        )
    if len(value) < min_length or len(set(value)) < _MIN_DISTINCT_CHARACTERS:
        raise environ.ImproperlyConfigured(
            f"{name} is too short or too uniform (SHOP_ENV=production): it needs at least {min_length} "
            f"characters, {_MIN_DISTINCT_CHARACTERS} of them distinct; it has {len(value)}"
        )


def _require_strong_url_password(url: str, name: str) -> None:
    password = urlsplit(url).password
    if password is not None:
        require_strong_secret(name, password, min_length=MACHINE_PASSWORD_MIN_LENGTH)


def secret_key() -> str:
    value = env.str("DJANGO_SECRET_KEY", default="")
    if value:
        require_strong_secret("DJANGO_SECRET_KEY", value, min_length=SECRET_KEY_MIN_LENGTH)
        return value
    if is_production():
        raise environ.ImproperlyConfigured("DJANGO_SECRET_KEY must be set when SHOP_ENV=production")
    return _DEV_SECRET_KEY


def database(service: str) -> dict[str, Any]:
    """`DATABASE_URL` (PostgreSQL in the full stack) or a WAL-mode SQLite file under var/."""
    url = env.str("DATABASE_URL", default="")
    if url:
        _require_strong_url_password(
            url, f"The password in DATABASE_URL ({service.upper()}_DB_PASSWORD in compose/.env)"
        )
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
    _require_strong_url_password(url, "The password in CACHE_URL (REDIS_PASSWORD in compose/.env)")
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
