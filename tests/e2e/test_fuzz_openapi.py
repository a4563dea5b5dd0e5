"""Schemathesis against the gateway's own OpenAPI, on the running shop: every operation, with and
without a token; no 5xx, every status documented, every body matching its documented schema."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.schemas import BaseSchema

from tests.e2e.conftest import Customer, Shop

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
FUZZ = settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def gateway_schema(shop: Shop) -> BaseSchema:
    return schemathesis.openapi.from_url(f"{shop.base_url}/api/openapi.json")


@pytest.fixture(scope="module")
def fuzz_customer(shop: Shop) -> Customer:
    import httpx

    with httpx.Client(base_url=shop.base_url, timeout=10) as api:
        email, password = "fuzzer@example.com", "fuzzing-all-day-long"
        api.post("/api/auth/register", json={"email": email, "password": password})
        tokens = api.post("/api/auth/login", json={"email": email, "password": password}).json()
        return Customer(email, password, tokens["access"], tokens["refresh"], "")


schema = schemathesis.pytest.from_fixture("gateway_schema")


@schema.parametrize()
@FUZZ
def test_every_operation_without_a_token(case: schemathesis.Case, shop: Shop) -> None:
    case.call_and_validate(base_url=shop.base_url, checks=CHECKS, timeout=10)


@schema.parametrize()
@FUZZ
def test_every_operation_with_a_customer_token(case: schemathesis.Case, shop: Shop, fuzz_customer: Customer) -> None:
    case.call_and_validate(base_url=shop.base_url, headers=fuzz_customer.auth, checks=CHECKS, timeout=10)
