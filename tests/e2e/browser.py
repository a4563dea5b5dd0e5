"""A real headless Chromium (Debian's chromium + chromedriver) for the staff consoles, and sign-in helpers."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from shopkit.ports import for_tests

# The e2e suite's shop runs on the tests' port block (tests/e2e/conftest.py).
USERS_ADMIN = f"{for_tests().url('users')}/admin/"
PRODUCTS_ADMIN = f"{for_tests().url('products')}/admin/"
ORDERS_ADMIN = f"{for_tests().url('orders')}/admin/"
CARTS_ADMIN = f"{for_tests().url('carts')}/admin/"
ADMINS = {"users": USERS_ADMIN, "products": PRODUCTS_ADMIN, "orders": ORDERS_ADMIN, "carts": CARTS_ADMIN}


@contextmanager
def chrome() -> Iterator[WebDriver]:
    """One headless Chromium with its own cookie jar (a second staff member needs a second one)."""
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
    with webdriver.Chrome(service=Service(executable_path=driver), options=options) as started:
        started.set_page_load_timeout(30)
        yield started


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    with chrome() as driver:
        yield driver


def log_in(browser: WebDriver, admin_url: str, email: str, password: str, *, keep_other_sessions: bool = False) -> None:
    """Sign in to one admin; by default signed out of every other first (cookies are per host, not port)."""
    if not keep_other_sessions:
        browser.delete_all_cookies()
    browser.get(f"{admin_url}login/")
    browser.find_element(By.NAME, "username").send_keys(email)
    browser.find_element(By.NAME, "password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()


def wait(browser: WebDriver, seconds: float = 15) -> WebDriverWait[Any]:
    return WebDriverWait(browser, seconds)
