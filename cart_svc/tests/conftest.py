"""Fixtures of the carts suite: products fake or down (customers: shopkit's `shopper` and `make_shopper`).

Products is the in-memory `fake_products` of shopkit: a real gRPC server on a local port.
"""

from __future__ import annotations

from typing import Any

import pytest

from shopkit.testing.outbox_contracts import pytest_runtest_call  # noqa: F401 - the hook checking outbox rows


@pytest.fixture
def products_down(products_down: None, settings: Any) -> None:
    """shopkit's `products_down`: refused connections fail at once; the deadline only bounds the retries."""
    settings.GRPC_DEADLINE_SECONDS = 1.0
