"""Staff consoles in a real headless Chromium (Debian's chromium + chromedriver): one staff identity in four admins.

Staff sign in to every admin with the users identity and open every registered model's pages; each
admin names its shop and service and links the others; a staff member removed, demoted, deactivated
or given a new password in the users admin is signed out of every admin within a minute.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from selenium.common.exceptions import NoSuchElementException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions

from tests.e2e.browser import ADMINS, PRODUCTS_ADMIN, USERS_ADMIN, browser, chrome, log_in, wait
from tests.e2e.conftest import Customer, Shop

__all__ = ["browser"]

# The users service's promise (docs/staff.md): a revoked staff session ends within a minute.
SESSION_END_DEADLINE_SECONDS = 60
# Lists that stay empty by design: users and orders consume no events; products and carts publish none.
EMPTY_BY_DESIGN = {
    "users": {"/admin/shop_events/processedevent/"},
    "orders": {"/admin/shop_events/processedevent/"},
    "products": {"/admin/shop_events/outboxevent/"},
    "carts": {"/admin/shop_events/outboxevent/"},
}
STAFF_PASSWORD = "a-staff-passphrase-9"


@pytest.fixture(scope="module")
def _operator_chrome() -> Iterator[WebDriver]:
    with chrome() as driver:
        yield driver


@pytest.fixture
def operator(_operator_chrome: WebDriver, staff: Customer) -> WebDriver:
    """A second browser, signed in to the users admin as the demo staff account: the operator."""
    _sign_in(_operator_chrome, USERS_ADMIN, staff.email, staff.password, keep_other_sessions=False)
    return _operator_chrome


def _header(page: WebDriver) -> str:
    try:
        return str(page.find_element(By.CSS_SELECTOR, "#site-name").text)
    except NoSuchElementException:
        # Not an admin page at all: shopkit answers errors (404, 500) as JSON problems.
        return f"no admin page at {page.current_url}: {page.page_source[:300]}"


def _sign_in(page: WebDriver, admin_url: str, email: str, password: str, *, keep_other_sessions: bool = True) -> None:
    log_in(page, admin_url, email, password, keep_other_sessions=keep_other_sessions)
    wait(page).until(expected_conditions.presence_of_element_located((By.ID, "user-tools")))


def _signed_in(page: WebDriver, admin_url: str) -> bool:
    page.get(admin_url)
    return "/admin/login/" not in page.current_url and bool(page.find_elements(By.ID, "user-tools"))


def _service(admin_url: str) -> str:
    return next(name for name, url in ADMINS.items() if url == admin_url)


def _save(page: WebDriver) -> None:
    page.find_element(By.NAME, "_save").click()
    wait(page).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".messagelist .success")))


def _create_staff_member(operator: WebDriver) -> tuple[str, str]:
    """The operator adds a staff member in the users admin; returns the e-mail and the change page's URL."""
    email = f"e2e-staff-{uuid.uuid4().hex[:10]}@example.com"
    operator.get(f"{USERS_ADMIN}accounts/user/add/")
    operator.find_element(By.NAME, "email").send_keys(email)
    operator.find_element(By.NAME, "password1").send_keys(STAFF_PASSWORD)
    operator.find_element(By.NAME, "password2").send_keys(STAFF_PASSWORD)
    _save(operator)
    change_url = operator.current_url
    assert change_url.endswith("/change/"), change_url
    for flag in ("is_staff", "is_superuser"):
        box = operator.find_element(By.NAME, flag)
        if not box.is_selected():
            box.click()
    _save(operator)
    return email, change_url


def _set_flag_off(operator: WebDriver, change_url: str, flag: str) -> None:
    operator.get(change_url)
    box = operator.find_element(By.NAME, flag)
    assert box.is_selected()
    box.click()
    _save(operator)


def _remove(operator: WebDriver, change_url: str) -> None:
    operator.get(change_url.replace("/change/", "/delete/"))
    operator.find_element(By.CSS_SELECTOR, "#content form input[type=submit]").click()
    wait(operator).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".messagelist .success")))


def _set_password(operator: WebDriver, change_url: str) -> None:
    operator.get(change_url.replace("/change/", "/password/"))
    operator.find_element(By.NAME, "password1").send_keys("another-staff-passphrase-7")
    operator.find_element(By.NAME, "password2").send_keys("another-staff-passphrase-7")
    operator.find_element(By.CSS_SELECTOR, "input[type=submit][name=set-password]").click()
    wait(operator).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".messagelist .success")))


def _add_group(page: WebDriver, admin_url: str) -> None:
    page.get(f"{admin_url}auth/group/add/")
    page.find_element(By.NAME, "name").send_keys(f"e2e-support-{uuid.uuid4().hex[:8]}")
    _save(page)


def _shop_data(api: httpx.Client, new_customer: Callable[[], Customer]) -> None:
    """Something in every list, made the way customers make it: accounts, a cart, a confirmed order."""
    product = api.get("/api/products", params={"in_stock": "true", "page_size": 1}).json()["items"][0]
    buyer, browser_customer = new_customer(), new_customer()
    for customer in (buyer, browser_customer):
        added = api.post("/api/cart/items", json={"product_id": product["id"], "quantity": 1}, headers=customer.auth)
        assert added.status_code in (200, 201), added.text
    order = api.post("/api/orders", headers={**buyer.auth, "Idempotency-Key": f"admin-crawl-{uuid.uuid4()}"})
    assert order.status_code == 201, order.text


def _rows(page: WebDriver) -> list[Any]:
    return list(page.find_elements(By.CSS_SELECTOR, "#result_list tbody tr"))


def _crawl(page: WebDriver, admin_url: str) -> list[str]:
    """Open every model's list and one change page; returns the lists left empty."""
    service = _service(admin_url)
    expected = f"Shop · {service}"
    page.get(admin_url)
    links = page.find_elements(By.CSS_SELECTOR, "#content-main .module th[scope=row] a")
    models = [str(a.get_attribute("href")) for a in links]
    assert models, f"{service}: no models on the index"
    empty: list[str] = []
    for href in models:
        path = href.removeprefix(admin_url.removesuffix("/admin/"))
        page.get(href)
        assert _header(page) == expected, path
        # Events arrive asynchronously (consumers, relay): wait for a row unless none can ever come.
        deadline_wait = 0 if path in EMPTY_BY_DESIGN[service] else 30
        if deadline_wait:
            wait(page, deadline_wait).until(lambda p, href=href: (p.get(href), bool(_rows(p)))[1])
        rows = _rows(page)
        if not rows:
            empty.append(path)
            continue
        link = rows[0].find_element(By.CSS_SELECTOR, "a[href*='/change/']").get_attribute("href")
        page.get(link)
        assert _header(page) == expected, link
        heading = page.find_element(By.CSS_SELECTOR, "#content h1, #content h2").text
        assert heading.startswith(("Change", "View")), (link, heading)
    return empty


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


def test_staff_signs_in_to_all_four_admins_and_opens_every_models_list_and_change_page(
    browser: WebDriver, staff: Customer, api: httpx.Client, new_customer: Callable[[], Customer]
) -> None:
    # given: customers' data everywhere; staff signed in to the four admins in one browser (four tabs)
    _shop_data(api, new_customer)
    browser.delete_all_cookies()
    for admin_url in ADMINS.values():
        _sign_in(browser, admin_url, staff.email, staff.password)
    assert {name: _signed_in(browser, url) for name, url in ADMINS.items()} == dict.fromkeys(ADMINS, True)
    for admin_url in ADMINS.values():
        _add_group(browser, admin_url)

    # when
    empty = {name: _crawl(browser, url) for name, url in ADMINS.items()}

    # then: every list had a row and its change page opened, except the lists empty by design
    assert {name: set(paths) for name, paths in empty.items()} == EMPTY_BY_DESIGN


def test_each_admin_names_its_shop_and_service_and_links_the_other_consoles(browser: WebDriver, shop: Shop) -> None:
    for name, admin_url in ADMINS.items():
        # when: the login page, the first thing staff see
        browser.delete_all_cookies()
        browser.get(f"{admin_url}login/")

        # then
        assert _header(browser) == f"Shop · {name}"
        assert browser.title == f"Log in | Shop · {name}"
        links = {
            a.get_attribute("data-console"): a.get_attribute("href")
            for a in browser.find_elements(By.CSS_SELECTOR, "#shop-consoles a")
        }
        assert links == {other: url for other, url in ADMINS.items() if other != name}
        current = browser.find_element(By.CSS_SELECTOR, "#shop-consoles [aria-current=page]").text
        assert current == name


@pytest.mark.parametrize("change", ["removed", "demoted", "deactivated", "password_changed"])
def test_a_staff_members_sessions_in_every_admin_end_within_a_minute_of_a_change_in_users(
    browser: WebDriver, operator: WebDriver, change: str
) -> None:
    # given: a new staff member, signed in to all four admins
    email, change_url = _create_staff_member(operator)
    browser.delete_all_cookies()
    for admin_url in ADMINS.values():
        _sign_in(browser, admin_url, email, STAFF_PASSWORD)
    assert {name: _signed_in(browser, url) for name, url in ADMINS.items()} == dict.fromkeys(ADMINS, True)

    # when: the operator changes them in the users admin
    if change == "removed":
        _remove(operator, change_url)
    elif change == "demoted":
        _set_flag_off(operator, change_url, "is_staff")
    elif change == "deactivated":
        _set_flag_off(operator, change_url, "is_active")
    else:
        _set_password(operator, change_url)

    # then: each admin sends their next request to the login page, within the deadline
    for admin_url in ADMINS.values():
        wait(browser, SESSION_END_DEADLINE_SECONDS).until(
            lambda page, url=admin_url: (page.get(url), "/admin/login/" in page.current_url)[1]
        )
    assert {name: _signed_in(browser, url) for name, url in ADMINS.items()} == dict.fromkeys(ADMINS, False)
    # and, with the old password, cannot come back (removed, demoted, deactivated, or a new password)
    log_in(browser, PRODUCTS_ADMIN, email, STAFF_PASSWORD)
    wait(browser).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".errornote")))
