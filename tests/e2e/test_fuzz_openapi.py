"""Schemathesis against the gateway's own OpenAPI on the running shop: every check, in every phase.

Examples, coverage and fuzzing run per operation, without a token and with a customer's; the stateful
phase walks the links between operations as that customer. Every built-in check runs (schemathesis's
config enables them all), so besides "no 5xx, every status, header and body as documented" the
gateway must accept what its schema admits (positive_data_acceptance), refuse what it forbids
(negative_data_rejection, missing_required_header, unsupported_method), enforce the auth it declares
(ignored_auth) and keep what it just created and nothing it deleted (ensure_resource_availability,
use_after_free). What is tuned, and why:

- positive_data_acceptance also expects the business rules each operation documents, which no schema
  can state (BUSINESS_RULES below): schema-valid input they refuse is the shop working, not a gap.
- the stateful phase generates valid steps only: negative data is generated per operation, where
  negative_data_rejection, missing_required_header and ignored_auth see it with and without a token.
- object_level_authorization runs but only acts with several identities (a Web Fuzzing Commons auth
  file); one customer's orders are another's 404 in tests/e2e/test_checkout.py instead.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis.errors import FlakyStrategyDefinition
from hypothesis.stateful import run_state_machine_as_test
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.schemas import BaseSchema

from tests.e2e.conftest import Customer, Shop

# Schemathesis's own default for positive_data_acceptance (5xx is not_a_server_error's to fail).
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]
# (operation, statuses, the rule): schema-valid requests the shop refuses on purpose, as documented.
BUSINESS_RULES = [
    ("POST /api/auth/register", ["400"], "the password validators: too common, all digits, like the e-mail"),
    ("POST /api/users/me/password", ["400"], "the current password must be right, the new one pass the validators"),
    ("GET /api/products", ["400"], "max_price must not be below min_price"),
    ("POST /api/cart/items", ["400"], "a cart line holds at most 99 units, however many adds it took"),
    ("POST /api/orders", ["422"], "an empty cart has nothing to order"),
]
CONFIG = SchemathesisConfig.from_dict(
    {
        # Journeys of valid steps: negative data is the per-operation phases' (with and without a token), and
        # a negated step here would drop the security the machine's own token then restores.
        "phases": {"stateful": {"generation": {"mode": "positive"}}},
        "operations": [
            {
                "include-name": operation,
                "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, *statuses]}},
            }
            for operation, statuses, _rule in BUSINESS_RULES
        ],
    }
)
HEALTH_CHECKS = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture]
FUZZ = settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=HEALTH_CHECKS)
# Bounded: a hundred short scenarios (or STATEFUL_SECONDS, whichever ends first) keep the stateful phase
# under a minute on the shared machine. Generated only and from fresh seeds: the shop's state moves on, so
# hypothesis cannot replay a walk (schemathesis's own runner restarts it the same way).
STATEFUL_SCENARIOS = 100
STATEFUL_SECONDS = 60.0
STATEFUL = settings(
    max_examples=STATEFUL_SCENARIOS,
    stateful_step_count=6,
    deadline=None,
    phases=[Phase.generate],
    database=None,
    suppress_health_check=list(HealthCheck),
)
CART_EMPTIED_WITHIN = 10.0


@pytest.fixture(scope="module")
def gateway_schema(shop: Shop) -> BaseSchema:
    return schemathesis.openapi.from_url(f"{shop.base_url}/api/openapi.json", config=CONFIG)


@pytest.fixture(scope="module")
def fuzz_customer(shop: Shop) -> Customer:
    with httpx.Client(base_url=shop.base_url, timeout=10) as api:
        email, password = "fuzzer@example.com", "fuzzing-all-day-long"
        api.post("/api/auth/register", json={"email": email, "password": password})
        tokens = api.post("/api/auth/login", json={"email": email, "password": password}).json()
        return Customer(email, password, tokens["access"], tokens["refresh"], "")


schema = schemathesis.pytest.from_fixture("gateway_schema")


@schema.parametrize()
@FUZZ
def test_every_operation_without_a_token(case: schemathesis.Case, shop: Shop) -> None:
    case.call_and_validate(base_url=shop.base_url, timeout=10)


@schema.parametrize()
@FUZZ
def test_every_operation_with_a_customer_token(case: schemathesis.Case, shop: Shop, fuzz_customer: Customer) -> None:
    case.call_and_validate(base_url=shop.base_url, headers=fuzz_customer.auth, timeout=10)


def _wait_for_cart_without(shop: Shop, customer: Customer, product_ids: set[str]) -> None:
    """Checkout empties the cart by an event: wait for it as a shopper would, so that the event does not
    remove a line a later step adds again (the step's DELETE would then rightly be a 404)."""
    deadline = time.monotonic() + CART_EMPTIED_WITHIN
    with httpx.Client(base_url=shop.base_url, headers=customer.auth, timeout=10) as api:
        while True:
            lines = api.get("/api/cart").json()["lines"]
            if not product_ids & {line["product_id"] for line in lines}:
                return
            assert time.monotonic() < deadline, f"the cart still holds {product_ids} after checkout"
            time.sleep(0.05)


def test_stateful_links_as_a_customer(
    gateway_schema: BaseSchema, shop: Shop, fuzz_customer: Customer, api: httpx.Client, staff: Customer
) -> None:
    # given: a product that does not run out, in the customer's cart at the start of every scenario (random
    # product ids are 404s, and a walk from an empty cart never gets past its first step)
    category = api.get("/api/categories").json()["items"][0]["slug"]
    sku = f"FUZZ-{uuid.uuid4().hex[:10].upper()}"
    new = {"sku": sku, "name": "Fuzzed Lamp", "price": "3.50", "stock": 1_000_000, "category": category}
    created = api.post("/api/products", json=new, headers=staff.auth)
    assert created.status_code == 201, created.text
    product_id = created.json()["id"]
    answered: set[tuple[str, str, int]] = set()
    failures: list[str] = []
    scenarios: list[None] = []

    class Shopper(gateway_schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            scenarios.append(None)
            line = {"product_id": product_id, "quantity": 1}
            api.delete(f"/api/cart/items/{product_id}", headers=fuzz_customer.auth)
            added = api.post("/api/cart/items", json=line, headers=fuzz_customer.auth)
            assert added.status_code == 200, added.text

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"base_url": shop.base_url, "headers": fuzz_customer.auth, "timeout": 10}

        def after_call(self, response: Any, case: schemathesis.Case) -> None:
            super().after_call(response, case)
            answered.add((case.method, case.path, response.status_code))
            if (case.method, case.path, response.status_code) == ("POST", "/api/orders", 201):
                ordered = {line["product_id"] for line in response.json()["lines"]}
                _wait_for_cart_without(shop, fuzz_customer, ordered)

        def validate_response(self, response: Any, case: schemathesis.Case, *args: Any, **kwargs: Any) -> None:
            # Collected, not raised, as schemathesis's own runner does: the shop's state moves on, so
            # hypothesis replaying a failing walk to shrink it would draw differently and report its own
            # "flaky strategy" error instead of the failure.
            try:
                super().validate_response(response, case, *args, **kwargs)
            except FailureGroup as failure:
                failures.append(f"{case.method} {case.path}: {failure}")

    # when
    deadline = time.monotonic() + STATEFUL_SECONDS
    while len(scenarios) < STATEFUL_SCENARIOS and time.monotonic() < deadline:
        try:
            run_state_machine_as_test(Shopper, settings=STATEFUL)
        except FlakyStrategyDefinition:
            # A response changed which links a step can follow, between two walks that drew the same
            # choices: not a failure of the shop (those are collected above), so walk on from a new seed.
            continue

    # then: every response passed every check, and the walk followed the links past their first steps
    assert failures == [], "\n\n".join(failures)
    assert len(scenarios) >= 20, f"only {len(scenarios)} scenarios in {STATEFUL_SECONDS} s"
    reached = {
        ("GET", "/api/cart", 200),
        ("PATCH", "/api/cart/items/{product_id}", 200),
        ("DELETE", "/api/cart/items/{product_id}", 200),
        ("POST", "/api/orders", 201),
        ("GET", "/api/orders/{order_id}", 200),
    }
    assert reached <= answered, "\n".join(map(str, sorted(answered)))
