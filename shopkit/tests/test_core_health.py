"""Liveness, readiness and metrics endpoints every service mounts."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.urls("shopkit_tests.core_urls"), pytest.mark.django_db]


def test_live_and_ready_when_database_and_cache_answer(client: Any) -> None:
    assert client.get("/health/live").json() == {"status": "ok", "service": "shopkit-tests"}
    ready = client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "cache": "ok"}


def test_ready_is_a_503_problem_when_a_check_fails(client: Any, settings: Any) -> None:
    # given
    settings.SHOP_READY_CHECKS = {"broken": "shopkit_tests.core_checks.always_fails"}

    # when
    response = client.get("/health/ready")

    # then
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["checks"]["broken"] == "error: RuntimeError"
    assert response.json()["checks"]["database"] == "ok"


def test_metrics_are_exposed_for_prometheus(client: Any) -> None:
    client.get("/health/live")
    body = client.get("/metrics").content.decode()
    assert "django_http_requests_total_by_view_transport_method_total" in body


def test_admin_sign_in_is_throttled_per_address(client: Any, settings: Any) -> None:
    # given
    settings.ADMIN_LOGIN_RATE = "3/m"
    from django.core.cache import cache

    cache.clear()

    # when
    statuses = [
        client.post("/admin/login/", {"username": f"u{i}@example.com", "password": "wrong"}).status_code
        for i in range(5)
    ]

    # then
    assert statuses[:3] == [200, 200, 200]
    assert statuses[3:] == [429, 429]


def test_ready_with_caching_turned_off_still_passes(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # given: CACHE_URL=dummy:// (the cache benchmark's reference) stores nothing by design
    from django.core.cache.backends.dummy import DummyCache

    from shopkit import health

    dummy = DummyCache("off", {})
    monkeypatch.setattr(health, "caches", {"default": dummy})
    monkeypatch.setattr(health, "cache", dummy)

    # when
    response = client.get("/health/ready")

    # then
    assert response.status_code == 200
    assert response.json()["checks"]["cache"] == "ok"


def test_a_shared_cache_without_cache_url_is_a_file_cache_every_process_of_the_service_sees(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.core.cache.backends.filebased import FileBasedCache

    from shopkit import settings as shop_settings

    monkeypatch.delenv("CACHE_URL", raising=False)
    monkeypatch.setattr(shop_settings, "VAR_DIR", tmp_path)

    config = shop_settings.cache("products", shared=True)
    first = FileBasedCache(config["LOCATION"], {})
    second = FileBasedCache(config["LOCATION"], {})  # another process of the same service
    first.set("catalog:version", 7)

    assert config["LOCATION"] == str(tmp_path / "cache" / "products")
    assert second.get("catalog:version") == 7
    assert shop_settings.cache("gateway")["BACKEND"].endswith("LocMemCache")
