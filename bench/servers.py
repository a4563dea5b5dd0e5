"""What `make bench` runs beside the shop: products servers differing in one setting, an OTLP sink, RSS sampling."""

from __future__ import annotations

import contextlib
import functools
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psutil

from shopkit import processes
from tools.shoprun import ROOT, Stack


class OtlpSink:
    """Accepts OTLP/HTTP exports and drops them, as a collector on another machine would cost us nothing."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@dataclass
class Extra:
    """A products server beside the real one, differing in `env` only, on a free port of its own."""

    name: str
    env: dict[str, str]
    port: int = field(default_factory=processes.free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_extras(stack: Stack, extras: list[Extra]) -> None:
    for extra in extras:
        prom_dir = stack.var_dir / "prometheus" / extra.name
        shutil.rmtree(prom_dir, ignore_errors=True)
        prom_dir.mkdir(parents=True)
        env = {
            **stack.service_env("products"),
            "WEB_CONCURRENCY": stack.base_env.get("WEB_CONCURRENCY", "1"),  # the same workers as `make run`
            "PROMETHEUS_MULTIPROC_DIR": str(prom_dir),
            **extra.env,
        }
        env = {k: v for k, v in env.items() if v != ""}
        argv = [sys.executable, "-m", "gunicorn", "product_svc.wsgi:application", "-c", "python:shopkit.gunicorn_conf"]
        with (stack.log_dir / f"{extra.name}.log").open("wb") as log:
            extra.proc = processes.spawn([*argv, "-b", f"127.0.0.1:{extra.port}"], env=env, cwd=ROOT, stdout=log)
    deadline = time.monotonic() + 60
    for extra in extras:
        processes.wait_until(
            functools.partial(processes.http_ok, f"{extra.url}/health/ready", timeout=2),
            timeout=max(0.0, deadline - time.monotonic()),
            what=extra.name,
            process=extra.proc,
            log=stack.log_dir / f"{extra.name}.log",
            interval=0.2,
        )


def stop_extras(extras: list[Extra]) -> None:
    processes.stop([extra.proc for extra in extras], grace=15)


class Footprint:
    """Total RSS of the shop's processes (and their children, e.g. gunicorn workers), sampled."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def now(self) -> int:
        total = 0
        for proc in self.stack.processes:
            if proc.popen is None:
                continue
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(proc.popen.pid)
                for p in [root, *root.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        total += p.memory_info().rss
        return total

    @contextlib.contextmanager
    def sampling(self) -> Iterator[None]:
        def loop() -> None:
            while not self._stop.wait(0.5):
                self.peak = max(self.peak, self.now())

        self._stop.clear()
        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()
        try:
            yield
        finally:
            self._stop.set()
            self._thread.join()
