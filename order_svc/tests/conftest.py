"""Fixtures of the orders suite: a real HTTP stand-in for carts (see carts_standin); customers and products_down
are shopkit's (shopkit.testing.plugin)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from order_svc.tests.carts_standin import CartsStandIn
from shopkit.testing.outbox_contracts import pytest_runtest_call  # noqa: F401 - the hook checking outbox rows
from shopkit.testing.processes import free_port


@pytest.fixture(scope="session")
def _carts_server() -> Iterator[CartsStandIn]:
    standin = CartsStandIn()
    yield standin
    standin.stop()


@pytest.fixture
def carts(_carts_server: CartsStandIn, settings: Any) -> CartsStandIn:
    """The carts stand-in, empty for each test; checkout reads carts from it."""
    _carts_server.reset()
    settings.CARTS_URL = _carts_server.url
    return _carts_server


@pytest.fixture
def dead_address() -> str:
    """An address nothing listens on: a port the OS just handed out and took back."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def admin_client(staff_admin_client: Any) -> Any:
    """Signed in through the admin's login page against a users stand-in (shopkit.testing), as staff do."""
    return staff_admin_client
