"""One client per process (shopkit.process.ProcessLocal): made once, again in a forked child, closed on reset."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from shopkit.process import ProcessLocal


class _Client:
    def __init__(self, made: list[_Client]) -> None:
        self.pid = os.getpid()
        self.closed = False
        made.append(self)

    def close(self) -> None:
        self.closed = True


def test_every_thread_of_a_process_gets_the_one_instance() -> None:
    # given
    made: list[_Client] = []
    start = threading.Barrier(8)

    def factory() -> _Client:
        return _Client(made)

    holder = ProcessLocal(factory, close=_Client.close)

    def first_use() -> _Client:
        start.wait()
        return holder.get()

    # when
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda _: first_use(), range(8)))

    # then
    assert len(made) == 1
    assert all(client is made[0] for client in got)


def test_reset_closes_the_instance_and_the_next_get_makes_a_new_one() -> None:
    # given
    made: list[_Client] = []
    holder = ProcessLocal(lambda: _Client(made), close=_Client.close)
    first = holder.get()

    # when
    holder.reset()
    second = holder.get()

    # then
    assert first.closed is True
    assert second is not first
    assert second.closed is False
    assert holder.peek() is second


def test_a_failing_factory_keeps_nothing_and_is_tried_again() -> None:
    # given
    attempts: list[int] = []

    def factory() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("not yet")
        return "client"

    holder = ProcessLocal(factory)

    # when
    with pytest.raises(ConnectionError, match="not yet"):
        holder.get()
    second = holder.get()

    # then
    assert (second, len(attempts)) == ("client", 2)


def test_a_forked_child_makes_its_own_and_leaves_the_parents_open() -> None:
    # given: the parent holds an instance when it forks
    made: list[_Client] = []
    holder = ProcessLocal(lambda: _Client(made), close=_Client.close)
    parent_client = holder.get()
    read_end, write_end = os.pipe()

    # when: the child asks for it, and resets it
    pid = os.fork()
    if pid == 0:  # the child: report and leave without running pytest's teardown
        try:
            inherited = holder.peek()
            child_client = holder.get()
            holder.reset()
            report = f"{inherited is None} {child_client is not parent_client} {child_client.pid == os.getpid()}"
            report += f" {parent_client.closed} {child_client.closed}"
            os.write(write_end, report.encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        report = pipe.read()
    os.waitpid(pid, 0)

    # then: a fresh one in the child; the parent's own is untouched and still its one instance
    assert report == "True True True False True"
    assert holder.get() is parent_client
    assert parent_client.closed is False
