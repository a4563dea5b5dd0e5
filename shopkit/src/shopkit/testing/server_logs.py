"""A real web server process (gunicorn, uvicorn) for log tests: started, asked over HTTP, stopped, its lines read."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from shopkit.settings import REPO_ROOT
from shopkit.testing.processes import child_env, free_port

__all__ = ["LINE_KEYS", "ServerRun", "child_env", "free_port", "running_server"]

# What every JSON line carries (docs/observability.md).
LINE_KEYS = {"event", "level", "timestamp", "service"}


@dataclass
class ServerRun:
    """The server's base URL while it runs; its output (stdout and stderr, one file) once it stopped."""

    base_url: str
    log_path: Path
    lines: list[str] = field(default_factory=list)

    def events(self) -> list[dict[str, Any]]:
        """Every output line parsed as JSON: a line that is not JSON fails here, naming it."""
        parsed = []
        for line in self.lines:
            try:
                parsed.append(json.loads(line))
            except json.JSONDecodeError:
                raise AssertionError(f"not a JSON line: {line!r}") from None
        return parsed


@contextmanager
def running_server(argv: list[str], *, env: dict[str, str], port: int, tmp_path: Path) -> Iterator[ServerRun]:
    """Starts `argv`, waits (up to 60 s) until /health/live answers, yields; then SIGTERM and collects lines."""
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(argv, env=env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    run = ServerRun(base_url=f"http://127.0.0.1:{port}", log_path=log_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{run.base_url}/health/live", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.05)
        yield run
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        run.lines = [line for line in log_path.read_text().splitlines() if line.strip()]
