"""The one checkout failure vocabulary: stored reasons, metric labels and problem types stay as published."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from order_svc.orders.errors import CheckoutFailed
from order_svc.orders.models import Order, OrderStatus
from order_svc.tests.factories import OrderFactory

pytestmark = pytest.mark.django_db

# Dashboards and the alert rules (CheckoutFailureSpike) select on these labels.
PUBLISHED_METRIC_REASONS = {
    "carts_unavailable",
    "empty_cart",
    "cart_too_large",
    "products_unavailable",
    "insufficient_stock",
    "product_unavailable",
    "product_not_found",
    "mixed_currencies",
    "total_too_large",
}


def test_every_reason_a_checkout_call_fails_for_has_a_series_from_the_start() -> None:
    # when
    reasons = {
        sample.labels["reason"]
        for metric in REGISTRY.collect()
        if metric.name == "shop_checkout_failures"
        for sample in metric.samples
        if sample.name == "shop_checkout_failures_total"
    }

    # then: abandoned checkouts are failed by the expiry job, not counted as failed checkout calls
    assert reasons == PUBLISHED_METRIC_REASONS


def test_an_order_can_be_stored_failed_only_for_a_final_reason() -> None:
    # when
    choices = [value for value, _label in Order._meta.get_field("failure_reason").choices or ()]

    # then
    assert choices == [
        "insufficient_stock",
        "product_unavailable",
        "product_not_found",
        "mixed_currencies",
        "total_too_large",
        "abandoned",
    ]


@pytest.mark.parametrize(
    ("reason", "problem_type", "status"),
    [
        ("insufficient_stock", "insufficient-stock", 409),
        ("product_unavailable", "product-unavailable", 409),
        ("product_not_found", "product-not-found", 409),
        ("mixed_currencies", "mixed-currencies", 409),
        ("total_too_large", "order-total-too-large", 422),
        ("abandoned", "checkout-abandoned", 409),
    ],
)
def test_a_failed_order_answers_with_the_problem_type_of_its_reason(
    reason: str, problem_type: str, status: int
) -> None:
    # given
    order = OrderFactory.create(status=OrderStatus.FAILED, failure_reason=reason)

    # when
    problem = CheckoutFailed.for_order(order)

    # then
    assert (problem.code, problem.status) == (problem_type, status)
