"""Staff flows in the Django admin, driven in a real headless Chromium (Debian's chromium + chromedriver)."""

from __future__ import annotations

from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions

from tests.e2e.browser import PRODUCTS_ADMIN, USERS_ADMIN, browser, log_in, wait
from tests.e2e.conftest import Customer

__all__ = ["browser"]


def test_customer_cannot_sign_in_to_an_admin(browser: WebDriver, new_customer: Any) -> None:
    # given
    customer: Customer = new_customer()

    # when
    log_in(browser, PRODUCTS_ADMIN, customer.email, customer.password)

    # then
    errors = wait(browser).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".errornote")))
    assert "staff account" in errors.text
    browser.get(PRODUCTS_ADMIN)
    assert "/admin/login/" in browser.current_url


def test_staff_finds_a_customer_in_the_users_admin(browser: WebDriver, staff: Customer, new_customer: Any) -> None:
    # given
    customer: Customer = new_customer()

    # when
    log_in(browser, USERS_ADMIN, staff.email, staff.password)
    wait(browser).until(expected_conditions.title_contains("Site administration"))
    browser.get(f"{USERS_ADMIN}accounts/user/?q={customer.email}")

    # then
    table = wait(browser).until(expected_conditions.presence_of_element_located((By.ID, "result_list")))
    assert customer.email in table.text
