"""Child processes for every suite: the test environment with the repository importable, a run (free_port is
shopkit.processes', re-exported)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence

from shopkit.processes import free_port
from shopkit.settings import REPO_ROOT

__all__ = ["child_env", "free_port", "run_python"]


def child_env(
    overrides: Mapping[str, str | None] | None = None, /, *, drop_prefixes: Sequence[str] = (), **more: str | None
) -> dict[str, str]:
    """The test environment for a child process, with the repository importable and the overrides on top.

    Overrides come as a mapping, as keywords, or both (keywords last). Variables starting with one of
    `drop_prefixes` are not inherited; an override of None removes a variable.
    """
    inherited = os.environ.items()  # noqa: TID251 - the child process inherits the test environment
    env = {k: v for k, v in inherited if not k.startswith(tuple(drop_prefixes))}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "shopkit")])
    for name, value in {**(overrides or {}), **more}.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def run_python(
    args: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`python <args>` from the repository root (ours: a manage.py, a script, `-c`), its output captured.

    Never raises for the exit status: the tests assert on it, and on what the process printed.
    """
    return subprocess.run(  # noqa: S603 - our own code under this interpreter
        [sys.executable, *args],
        env=dict(env if env is not None else child_env()),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
