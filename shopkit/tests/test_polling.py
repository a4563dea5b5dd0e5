"""The one poll loop (shopkit.testing.polling): returns the value once it holds, fails naming what and the last."""

from __future__ import annotations

import itertools
import time

import pytest

from shopkit.testing.polling import poll


def test_poll_returns_the_first_value_that_holds() -> None:
    # given
    counter = itertools.count()

    # when
    value = poll(lambda: next(counter), lambda n: n >= 3, seconds=5, interval=0.001)

    # then
    assert value == 3


def test_poll_fails_at_the_deadline_naming_what_and_the_last_value() -> None:
    # given
    started = time.monotonic()

    # when
    with pytest.raises(AssertionError) as failed:
        poll(lambda: "pending", lambda status: status == "done", seconds=0.3, what=lambda: "the order confirmed")

    # then
    assert str(failed.value) == "the order confirmed: not within 0.3 s (last: 'pending')"
    assert 0.3 <= time.monotonic() - started < 2.0
