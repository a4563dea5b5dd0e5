"""Process plumbing for long-running event workers: a stop flag set by SIGTERM/SIGINT."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from shopkit.logging import get_logger

log = get_logger(__name__)


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
