"""Staff edit stock in the products admin (real headless Chromium) while checkouts allocate it."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions

from tests.e2e.browser import PRODUCTS_ADMIN, browser, log_in, wait
from tests.e2e.conftest import Customer

__all__ = ["browser"]


def _create_product(api: httpx.Client, staff: Customer, *, stock: int) -> tuple[str, str]:
    category = api.get("/api/categories").json()["items"][0]["slug"]
    sku = f"ADM-{uuid.uuid4().hex[:8].upper()}"
    created = api.post(
        "/api/products",
        json={"sku": sku, "name": f"Admin Desk {sku}", "price": "120.00", "stock": stock, "category": category},
        headers=staff.auth,
    )
    assert created.status_code == 201, created.text
    return sku, created.json()["id"]


def _open_list_row(browser: WebDriver, staff: Customer, sku: str) -> WebElement:
    log_in(browser, PRODUCTS_ADMIN, staff.email, staff.password)
    wait(browser).until(expected_conditions.presence_of_element_located((By.ID, "user-tools")))
    browser.get(f"{PRODUCTS_ADMIN}catalog/product/?q={sku}")
    row: WebElement = wait(browser).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "#result_list tbody tr"))
    )
    return row


def _set(row: WebElement, name: str, value: str) -> None:
    field = row.find_element(By.CSS_SELECTOR, f"input[name$='-{name}']")
    field.clear()
    field.send_keys(value)


def _save(browser: WebDriver) -> None:
    browser.find_element(By.NAME, "_save").click()
    wait(browser).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".messagelist .success")))


def _staff_view(api: httpx.Client, staff: Customer, product_id: str) -> tuple[int, int, int, str]:
    body = api.get(f"/api/products/{product_id}", headers=staff.auth).json()
    return body["stock_on_hand"], body["stock_allocated"], body["stock"], body["price"]


def test_staff_edits_stock_on_hand_and_price_in_the_products_admin_list(
    browser: WebDriver, api: httpx.Client, staff: Customer
) -> None:
    # given: a product created through the API, read once so it is cached
    sku, product_id = _create_product(api, staff, stock=4)
    assert api.get(f"/api/products/{product_id}").json()["stock"] == 4

    # when: staff signs in to the products admin with the users-service identity and edits the list
    row = _open_list_row(browser, staff, sku)
    _set(row, "stock_on_hand", "11")
    _set(row, "price", "99.50")
    _save(browser)

    # then: the public API shows the new values at once (the cache was invalidated)
    shown = api.get(f"/api/products/{product_id}").json()
    assert (shown["stock"], shown["price"]) == (11, "99.50")


def test_a_price_edit_on_a_list_read_before_checkouts_and_restocks_keeps_both(
    browser: WebDriver, api: httpx.Client, staff: Customer, new_customer: Callable[[], Customer]
) -> None:
    # given: staff have the list open (4 on hand); meanwhile a customer buys 3 and a second staff
    # member counts the shelf again and sets 9 on hand
    sku, product_id = _create_product(api, staff, stock=4)
    row = _open_list_row(browser, staff, sku)
    header = browser.find_element(By.CSS_SELECTOR, "#result_list thead").text.lower()
    assert all(heading in header for heading in ("on hand", "allocated", "available")), header
    buyer = new_customer()
    api.post("/api/cart/items", json={"product_id": product_id, "quantity": 3}, headers=buyer.auth)
    placed = api.post("/api/orders", headers={**buyer.auth, "Idempotency-Key": str(uuid.uuid4())})
    assert placed.status_code == 201, placed.text
    restocked = api.patch(f"/api/products/{product_id}", json={"stock_on_hand": 9}, headers=staff.auth)
    assert restocked.status_code == 200, restocked.text

    # when: the first staff member changes only the price on the page read before both
    _set(row, "price", "110.00")
    _save(browser)

    # then: the price changed; the restock and the order's three units are as they were
    assert _staff_view(api, staff, product_id) == (9, 3, 6, "110.00")
    row = wait(browser).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "#result_list tbody tr"))
    )
    assert row.find_element(By.CSS_SELECTOR, "input[name$='-stock_on_hand']").get_attribute("value") == "9"
    assert row.find_element(By.CSS_SELECTOR, "td.field-stock_allocated").text == "3"
    assert row.find_element(By.CSS_SELECTOR, "td.field-stock").text == "6"


def test_on_hand_below_what_orders_hold_is_refused_in_the_admin_and_changes_nothing(
    browser: WebDriver, api: httpx.Client, staff: Customer, new_customer: Callable[[], Customer]
) -> None:
    # given: three of four units are allocated to an order
    sku, product_id = _create_product(api, staff, stock=4)
    buyer = new_customer()
    api.post("/api/cart/items", json={"product_id": product_id, "quantity": 3}, headers=buyer.auth)
    assert api.post("/api/orders", headers={**buyer.auth, "Idempotency-Key": str(uuid.uuid4())}).status_code == 201

    # when
    row = _open_list_row(browser, staff, sku)
    _set(row, "stock_on_hand", "2")
    browser.find_element(By.NAME, "_save").click()

    # then: the row says why; nothing was written
    error = wait(browser).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".errorlist")))
    assert "3 unit(s) are allocated to orders" in error.text
    assert _staff_view(api, staff, product_id) == (4, 3, 1, "120.00")
