"""Faults in tests: the `switch_fault` fixture (on in the session's flags file, seen by this process, off again
after the test) and `faults_cli`, the operator's way (`make fault`) for suites whose processes run apart."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from shopkit import faults
from shopkit.testing.polling import poll
from shopkit.testing.processes import run_python

SEEN_TIMEOUT_SECONDS = 10.0


def _wait_for(name: str, expected: Any) -> None:
    fault = faults.FAULTS[name]
    poll(
        lambda: faults.fault_value(name, fault.kind()) == expected,
        seconds=SEEN_TIMEOUT_SECONDS,
        what=f"fault {name} becoming {expected!r} in this process",
        interval=0.02,
    )


def faults_cli(*args: str) -> None:
    """`python -m tools.faults --file <the session's flags file> <args>` (what `make fault` runs), e.g.
    `faults_cli("set", "products-errors", "1")`; every process of a running stack reads the same file."""
    result = run_python(["-m", "tools.faults", "--file", str(faults.faults_file()), *args], timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


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
