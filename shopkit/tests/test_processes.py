"""shopkit.processes: a child dies with the process that started it (even SIGKILLed), stop() takes its whole group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from shopkit import processes
from shopkit.settings import REPO_ROOT

# A launcher in miniature: starts `sleep` through shopkit.processes, says its pid, then waits to be killed.
LAUNCHER = """
import sys, time
from shopkit import processes
child = processes.spawn(["sleep", "300"])
print(child.pid, flush=True)
time.sleep(300)
"""


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _poll_gone(pid: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not _gone(pid):
        assert time.monotonic() < deadline, f"{pid} still runs"
        time.sleep(0.05)


def _launcher() -> tuple[subprocess.Popen[str], int]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "shopkit")])}  # noqa: TID251
    launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER], stdout=subprocess.PIPE, text=True, env=env)
    assert launcher.stdout is not None
    return launcher, int(launcher.stdout.readline())


def test_a_spawned_child_ends_when_its_launcher_is_killed_with_sigkill() -> None:
    # given
    launcher, child = _launcher()
    try:
        assert not _gone(child)

        # when
        launcher.kill()
        launcher.wait(timeout=10)

        # then
        _poll_gone(child, seconds=10)
    finally:
        if not _gone(child):
            os.kill(child, signal.SIGKILL)


def test_stop_takes_the_childs_own_children_too() -> None:
    # given: a shell that starts a grandchild and waits for it (a server master and its worker)
    parent = processes.spawn(["sh", "-c", "sleep 300 & wait"], stdout=subprocess.DEVNULL)
    processes.wait_until(lambda: bool(psutil.Process(parent.pid).children()), timeout=10, what="the grandchild")
    [grandchild] = psutil.Process(parent.pid).children()

    # when
    processes.stop([parent], grace=5)

    # then
    assert parent.returncode is not None
    _poll_gone(grandchild.pid, seconds=5)


def test_wait_until_names_a_child_that_exited_and_its_log(tmp_path: Path) -> None:
    child = processes.spawn(["sh", "-c", "exit 3"])

    with pytest.raises(RuntimeError, match=f"broker exited with 3; see {tmp_path / 'broker.log'}"):
        processes.wait_until(lambda: False, timeout=10, what="broker", process=child, log=tmp_path / "broker.log")
