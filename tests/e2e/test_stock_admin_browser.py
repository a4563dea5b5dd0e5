"""Staff edit stock in the products admin (real headless Chromium) while checkouts allocate it."""

from __future__ import annotations

import uuid

import httpx
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions

from tests.e2e.browser import PRODUCTS_ADMIN, browser, log_in, wait
from tests.e2e.conftest import Customer

__all__ = ["browser"]


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
    log_in(browser, PRODUCTS_ADMIN, staff.email, staff.password)
    wait(browser).until(expected_conditions.title_contains("Site administration"))
    browser.get(f"{PRODUCTS_ADMIN}catalog/product/?q={sku}")
    row = wait(browser).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "#result_list tbody tr"))
    )
    stock_input = row.find_element(By.CSS_SELECTOR, "input[name$='-stock']")
    stock_input.clear()
    stock_input.send_keys("11")
    price_input = row.find_element(By.CSS_SELECTOR, "input[name$='-price']")
    price_input.clear()
    price_input.send_keys("99.50")
    browser.find_element(By.NAME, "_save").click()
    wait(browser).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".messagelist .success")))

    # then: the public API shows the new values at once (the cache was invalidated)
    shown = api.get(f"/api/products/{product_id}").json()
    assert (shown["stock"], shown["price"]) == (11, "99.50")
