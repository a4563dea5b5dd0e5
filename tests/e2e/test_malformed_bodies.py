"""Malformed bodies sent straight to each process's port (as any container on the network could) are 400 problems.

Orders reads no request body (checkout takes only the Idempotency-Key header), so it has no parser to reach.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from shopkit.testing.malformed import MALFORMED_BODIES, MALFORMED_JSON_TYPE
from tests.e2e.conftest import PORTS, Customer


def test_malformed_bodies_straight_to_every_service_are_400_problems(
    api: httpx.Client, new_customer: Callable[[], Customer], staff: Customer
) -> None:
    # given
    customer = new_customer()
    targets = {
        "gateway": (PORTS.gateway, "PATCH", "/api/users/me", customer.auth),
        "users": (PORTS.users, "PATCH", "/api/users/me", customer.auth),
        "products": (PORTS.products, "POST", "/api/products", staff.auth),
        "carts": (PORTS.carts, "POST", "/api/cart/items", customer.auth),
    }

    # when
    answers = {}
    for service, (port, method, path, auth) in targets.items():
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10.0) as client:
            for case, body in MALFORMED_BODIES.items():
                response = client.request(
                    method, path, content=body, headers={**auth, "Content-Type": "application/json"}
                )
                answers[service, case] = (response.status_code, response.json().get("type"))

    # then
    assert answers == dict.fromkeys(answers, (400, MALFORMED_JSON_TYPE))
    assert len(answers) == len(targets) * len(MALFORMED_BODIES)
    assert api.get("/api/users/me", headers=customer.auth).json()["first_name"] == "Eve"
    assert api.get("/api/cart", headers=customer.auth).json()["lines"] == []
