"""Process plumbing for every long-running shop process: a stop flag set by signals, one client per process."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Generic, TypeVar

from shopkit.logging import get_logger

log = get_logger(__name__)

T = TypeVar("T")


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[threading.Event]:
    """Set `stop` on SIGTERM/SIGINT while inside; the work loop finishes its current step and exits.

    Outside the main thread (tests run workers in threads) signals cannot be handled, so nothing
    is installed and the caller's `stop` remains the only way out.
    """
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def _handle(signum: int, frame: FrameType | None) -> None:
        log.info("worker_stop_requested", signal=signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, _handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class ProcessLocal(Generic[T]):
    """One `T` per process (a gRPC channel, a connection pool, a feature-flag client), made on first use.

    The shop's one way to hold a process-wide client. A child forked from a process that holds one gets
    its own on its first use (channels, pools and watcher threads do not survive fork(); the parent's copy
    is left alone, never closed from the child). `reset()` closes and forgets it: tests repoint a setting,
    a process changes its target. If `factory` raises, nothing is kept and the next `get()` tries again.
    """

    def __init__(self, factory: Callable[[], T], *, close: Callable[[T], object] | None = None) -> None:
        self._factory = factory
        self._close = close
        self._lock = threading.Lock()
        self._instance: T | None = None
        self._pid: int | None = None

    def get(self) -> T:
        pid = os.getpid()
        instance = self._instance
        if instance is not None and self._pid == pid:  # the hot path takes no lock
            return instance
        with self._lock:
            if self._instance is None or self._pid != pid:
                self._instance = self._factory()
                self._pid = pid
            return self._instance

    def peek(self) -> T | None:
        """This process's instance if one was made, without making one."""
        return self._instance if self._pid == os.getpid() else None

    def reset(self) -> None:
        """Close (when this process made it) and forget the instance; the next `get()` makes a new one."""
        with self._lock:
            instance, owned = self._instance, self._pid == os.getpid()
            self._instance, self._pid = None, None
        if instance is not None and owned and self._close is not None:
            self._close(instance)
