"""pytest fixture `switch_fault`: turn a fault on in the session's flags file and wait until this process
sees it; every fault it turned on is off again (and seen off) after the test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from shopkit import faults
from shopkit.testing.polling import poll

SEEN_TIMEOUT_SECONDS = 10.0


def _wait_for(name: str, expected: Any) -> None:
    fault = faults.FAULTS[name]
    poll(
        lambda: faults.fault_value(name, fault.kind()) == expected,
        seconds=SEEN_TIMEOUT_SECONDS,
        what=f"fault {name} becoming {expected!r} in this process",
        interval=0.02,
    )


@pytest.fixture
def switch_fault() -> Iterator[Callable[..., Any]]:
    """`switch_fault("products-errors", "1")`: on, with the value as `make fault VALUE=` takes it."""
    path = faults.faults_file()
    switched: list[str] = []

    def switch(name: str, value: str | None = None) -> Any:
        written = faults.fault_set(path, name, value)
        switched.append(name)
        _wait_for(name, written)
        return written

    yield switch
    for name in switched:
        faults.fault_off(path, name)
        _wait_for(name, faults.FAULTS[name].kind())
