"""Staff flows in the Django admin, driven in a real headless Chromium (Debian's chromium + chromedriver)."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.conftest import Customer

PRODUCTS_ADMIN = "http://127.0.0.1:5001/admin/"
USERS_ADMIN = "http://127.0.0.1:5000/admin/"


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.fail("Debian's chromium and chromium-driver are required (.ci/run installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ):
        options.add_argument(flag)
    with webdriver.Chrome(service=Service(executable_path=driver), options=options) as chrome:
        chrome.set_page_load_timeout(30)
        yield chrome


def _log_in(browser: WebDriver, admin_url: str, email: str, password: str) -> None:
    browser.delete_all_cookies()
    browser.get(f"{admin_url}login/")
    browser.find_element(By.NAME, "username").send_keys(email)
    browser.find_element(By.NAME, "password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()


def _wait(browser: WebDriver) -> WebDriverWait[Any]:
    return WebDriverWait(browser, 15)


def test_staff_edits_stock_and_price_in_the_products_admin_list(
    browser: WebDriver, api: httpx.Client, staff: Customer
) -> None:
    # given: a product created through the API, read once so it is cached
    category = api.get("/api/categories").json()["items"][0]["slug"]
    sku = f"ADM-{uuid.uuid4().hex[:8].upper()}"
    created = api.post(
        "/api/products",
        json={"sku": sku, "name": f"Admin Desk {sku}", "price": "120.00", "stock": 4, "category": category},
        headers=staff.auth,
    )
    assert created.status_code == 201, created.text
    product_id = created.json()["id"]
    assert api.get(f"/api/products/{product_id}").json()["stock"] == 4

    # when: staff signs in to the products admin with the users-service identity and edits the list
    _log_in(browser, PRODUCTS_ADMIN, staff.email, staff.password)
    _wait(browser).until(expected_conditions.title_contains("Site administration"))
    browser.get(f"{PRODUCTS_ADMIN}catalog/product/?q={sku}")
    row = _wait(browser).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "#result_list tbody tr"))
    )
    stock_input = row.find_element(By.CSS_SELECTOR, "input[name$='-stock']")
    stock_input.clear()
    stock_input.send_keys("11")
    price_input = row.find_element(By.CSS_SELECTOR, "input[name$='-price']")
    price_input.clear()
    price_input.send_keys("99.50")
    browser.find_element(By.NAME, "_save").click()
    _wait(browser).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".messagelist .success")))

    # then: the public API shows the new values at once (the cache was invalidated)
    shown = api.get(f"/api/products/{product_id}").json()
    assert (shown["stock"], shown["price"]) == (11, "99.50")


def test_customer_cannot_sign_in_to_an_admin(browser: WebDriver, new_customer: Any) -> None:
    # given
    customer: Customer = new_customer()

    # when
    _log_in(browser, PRODUCTS_ADMIN, customer.email, customer.password)

    # then
    errors = _wait(browser).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".errornote")))
    assert "staff account" in errors.text
    browser.get(PRODUCTS_ADMIN)
    assert "/admin/login/" in browser.current_url


def test_staff_finds_a_customer_in_the_users_admin(browser: WebDriver, staff: Customer, new_customer: Any) -> None:
    # given
    customer: Customer = new_customer()

    # when
    _log_in(browser, USERS_ADMIN, staff.email, staff.password)
    _wait(browser).until(expected_conditions.title_contains("Site administration"))
    browser.get(f"{USERS_ADMIN}accounts/user/?q={customer.email}")

    # then
    table = _wait(browser).until(expected_conditions.presence_of_element_located((By.ID, "result_list")))
    assert customer.email in table.text
