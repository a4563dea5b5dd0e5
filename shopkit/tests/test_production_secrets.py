"""With SHOP_ENV=production every service refuses to start on a placeholder or too-short secret, naming it.

Each case starts a real service process (`manage.py check --deploy`) and reads its exit code and error.
"""

from __future__ import annotations

import functools
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from shopkit.settings import require_strong_secret
from shopkit.testing.processes import child_env, run_python
from shopkit.testing.tokens import signing_keypair
from tests.infra.support import load_env_example

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ["user_svc", "product_svc", "order_svc", "cart_svc", "gateway_svc"]
EXAMPLE = load_env_example()


@functools.cache
def _jwt_key_file() -> Path:
    directory = Path(tempfile.mkdtemp(prefix="shop-production-secrets-"))
    path = directory / "private.pem"
    path.write_text(signing_keypair().private_pem)
    path.chmod(0o600)
    return path


def _strong(length: int = 64) -> str:
    return secrets.token_urlsafe(length)[:length]


def _production_env(**overrides: str | None) -> dict[str, str]:
    """Strong values for every secret a process reads, then the case's own (None removes a variable)."""
    strong = {
        "SHOP_ENV": "production",
        # users needs its signing key in production (mounted as a file there)
        "JWT_PRIVATE_KEY_FILE": str(_jwt_key_file()),
        "DJANGO_SECRET_KEY": _strong(),
        "DATABASE_URL": f"postgres://shop:{_strong(24)}@127.0.0.1:5432/shop_unused",
        "CACHE_URL": f"redis://:{_strong(24)}@127.0.0.1:6379/15",
    }
    return child_env({**strong, **overrides}, drop_prefixes=("DJANGO_", "DATABASE_", "CACHE_", "SHOP_"))


def _check_deploy(package: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_python([str(ROOT / package / "manage.py"), "check", "--deploy"], env=env)


def _refusal(result: subprocess.CompletedProcess[str]) -> str:
    """The ImproperlyConfigured line the process died with."""
    assert result.returncode == 1, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if "ImproperlyConfigured: " in line]
    assert lines, result.stderr
    return lines[-1].split("ImproperlyConfigured: ", 1)[1]


@pytest.mark.parametrize("package", SERVICES)
def test_every_service_refuses_the_example_secret_key(package: str) -> None:
    # given: compose/.env.example copied as it is
    env = _production_env(DJANGO_SECRET_KEY=EXAMPLE["DJANGO_SECRET_KEY"])

    # when
    result = _check_deploy(package, env)

    # then
    assert _refusal(result) == (
        "DJANGO_SECRET_KEY is a placeholder, not a secret (SHOP_ENV=production): set a random value, "
        "e.g. `openssl rand -hex 32`"
    )
    assert EXAMPLE["DJANGO_SECRET_KEY"] not in result.stderr


@pytest.mark.parametrize(
    ("value", "length"),
    [pytest.param(_strong(49), 49, id="49-characters"), pytest.param("ab" * 30, 60, id="two-distinct-characters")],
)
def test_a_short_or_uniform_secret_key_is_refused(value: str, length: int) -> None:
    # when
    result = _check_deploy("product_svc", _production_env(DJANGO_SECRET_KEY=value))

    # then
    assert _refusal(result) == (
        "DJANGO_SECRET_KEY is too short or too uniform (SHOP_ENV=production): it needs at least 50 "
        f"characters, 5 of them distinct; it has {length}"
    )
    assert value not in result.stderr


def test_a_missing_secret_key_is_refused() -> None:
    # when
    result = _check_deploy("order_svc", _production_env(DJANGO_SECRET_KEY=None))

    # then
    assert _refusal(result) == "DJANGO_SECRET_KEY must be set when SHOP_ENV=production"


@pytest.mark.parametrize(
    ("package", "service"),
    [("user_svc", "USERS"), ("product_svc", "PRODUCTS"), ("order_svc", "ORDERS"), ("cart_svc", "CARTS")],
)
def test_every_service_refuses_the_example_database_password(package: str, service: str) -> None:
    # given: the URL compose builds from compose/.env.example's password
    password = EXAMPLE[f"{service}_DB_PASSWORD"]
    env = _production_env(DATABASE_URL=f"postgres://{service.lower()}:{password}@127.0.0.1:5432/{service.lower()}")

    # when
    result = _check_deploy(package, env)

    # then
    assert _refusal(result).startswith(
        f"The password in DATABASE_URL ({service}_DB_PASSWORD in compose/.env) is a placeholder, not a secret"
    )
    assert password not in result.stderr


def test_a_short_database_password_is_refused() -> None:
    # when
    result = _check_deploy("cart_svc", _production_env(DATABASE_URL="postgres://carts:Xk3-pQ9@127.0.0.1/carts"))

    # then
    assert _refusal(result) == (
        "The password in DATABASE_URL (CARTS_DB_PASSWORD in compose/.env) is too short or too uniform "
        "(SHOP_ENV=production): it needs at least 16 characters, 5 of them distinct; it has 7"
    )


@pytest.mark.parametrize("package", SERVICES)
def test_every_service_refuses_the_example_redis_password(package: str) -> None:
    # given
    env = _production_env(CACHE_URL=f"redis://:{EXAMPLE['REDIS_PASSWORD']}@127.0.0.1:6379/1")

    # when
    result = _check_deploy(package, env)

    # then
    assert _refusal(result).startswith(
        "The password in CACHE_URL (REDIS_PASSWORD in compose/.env) is a placeholder, not a secret"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(EXAMPLE["SHOP_DEMO_STAFF_PASSWORD"], "is a placeholder, not a secret", id="example"),
        pytest.param("Tr0ub4dor&3xyz", "is too short or too uniform", id="14-characters"),
    ],
)
def test_users_refuses_a_weak_staff_bootstrap_password(value: str, message: str) -> None:
    # when
    result = _check_deploy(
        "user_svc", _production_env(SHOP_DEMO_STAFF_EMAIL="ops@shop.test", SHOP_DEMO_STAFF_PASSWORD=value)
    )

    # then
    assert _refusal(result).startswith(f"SHOP_DEMO_STAFF_PASSWORD {message}")
    assert value not in result.stderr


def test_strong_secrets_pass_the_checks() -> None:
    # given: the platform settings alone (each service adds requirements of its own, e.g. keys)
    env = _production_env(DJANGO_SETTINGS_MODULE="shopkit_tests.settings")

    # when
    result = subprocess.run(
        [sys.executable, "-m", "django", "check", "--deploy"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    # then
    assert result.returncode == 0, result.stderr
    assert "ImproperlyConfigured" not in result.stderr


@pytest.mark.parametrize(
    "value",
    [
        "change-me",
        "CHANGEME-CHANGEME-CHANGEME",
        "Change_Me_2024!",
        "replace-with-users-db-password",
        "please-replace-me-before-going-live",
        "placeholder-value-for-the-secret",
        "secret",
        "Password123!",
        "p@ssw0rd",
        "admin",
        "shop-example-password",
        "dev-only-insecure-secret-key-change-me",
    ],
)
def test_common_placeholders_are_refused_whatever_their_length(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    # given
    monkeypatch.setenv("SHOP_ENV", "production")

    # when
    with pytest.raises(ImproperlyConfigured) as refused:
        require_strong_secret("REDIS_PASSWORD", value, min_length=1)

    # then: the message names the variable, never the value
    assert str(refused.value) == (
        "REDIS_PASSWORD is a placeholder, not a secret (SHOP_ENV=production): set a random value, "
        "e.g. `openssl rand -hex 32`"
    )


def test_outside_production_any_secret_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    # given: `make run` and the test suites use short documented development values
    monkeypatch.setenv("SHOP_ENV", "development")

    # when / then: no exception
    require_strong_secret("DJANGO_SECRET_KEY", "change-me", min_length=50)
