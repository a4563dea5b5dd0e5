"""Waiting with a deadline, never a fixed sleep: the one poll loop of every suite (unit, end-to-end, stack)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def poll(
    fetch: Callable[[], T],
    until: Callable[[T], object] = bool,
    *,
    seconds: float,
    what: str | Callable[[], str] = "the condition",
    interval: float = 0.05,
) -> T:
    """`fetch()` until `until(value)` holds (by default: the value is truthy), for at most `seconds`; the value.

    Past the deadline it fails naming `what` (a callable is asked only then, so it can describe the state at
    the end) and the last value seen. `fetch` runs at least once, and once more at the deadline.
    """
    deadline = time.monotonic() + seconds
    while True:
        value = fetch()
        if until(value):
            return value
        if time.monotonic() >= deadline:
            said = what() if callable(what) else what
            raise AssertionError(f"{said}: not within {seconds:g} s (last: {value!r})"[:4000])
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
