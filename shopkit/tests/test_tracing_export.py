"""A trace backend that cannot be reached costs one warning line and no slow exit; a reachable one gets spans.

Each case runs a real process (Django set up with shopkit's settings, LOG_FORMAT=json) exporting over
OTLP/HTTP to 127.0.0.1: a closed port, a name that does not resolve, or the end-to-end suite's OTLP
receiver behind a TCP proxy that can refuse connections and come back.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.otlp import OtlpReceiver
from tests.e2e.tcpproxy import TcpProxy

ROOT = Path(__file__).resolve().parents[2]
# Before the fix a stop waited about 10 s on an unreachable endpoint; the bound is generous on purpose,
# far below the bug and far above the fixed exit (about 1 s at worst), so a busy machine does not fail it.
EXIT_BOUND_SECONDS = 5.0

# The child emits spans in rounds; between rounds it waits for a line on stdin (or exits on "exit").
CHILD = """
import sys
import django
django.setup()
import structlog
from opentelemetry import trace

tracer = trace.get_tracer("shopkit-tests")
log = structlog.get_logger("child")
for line in sys.stdin:
    command = line.strip()
    for n in range(20):
        with tracer.start_as_current_span("work"):
            pass
    if command == "flush":
        trace.get_tracer_provider().force_flush()
    log.info("child_round_done", command=command)
    if command == "exit":
        break
"""


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens once the socket is closed


@dataclass
class Child:
    """A running child process; its stdout and stderr lines are collected as they arrive."""

    proc: subprocess.Popen[str]
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def wait_for(self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        with self.changed:
            while not predicate(self.events()):
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"timed out; stdout={self.stdout} stderr={self.stderr}"
                assert self.proc.poll() is None or predicate(self.events()), f"exited: {self.stdout} {self.stderr}"
                self.changed.wait(min(remaining, 0.2))

    def round(self, command: str) -> None:
        done = len([e for e in self.events() if e["event"] == "child_round_done"])
        self.send(command)
        self.wait_for(lambda events: len([e for e in events if e["event"] == "child_round_done"]) > done)

    def events(self) -> list[dict[str, Any]]:
        """Every line so far, parsed: a line that is not JSON fails the test here."""
        return [json.loads(line) for line in [*self.stdout, *self.stderr]]


def _collect(stream: Any, into: list[str], changed: threading.Condition) -> None:
    for line in stream:
        with changed:
            into.append(line.rstrip("\n"))
            changed.notify_all()


@pytest.fixture
def start_child() -> Iterator[Callable[[str], Child]]:
    children: list[Child] = []

    def start(endpoint: str) -> Child:
        env = {
            **os.environ,  # noqa: TID251 - the child process inherits the test environment
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "shopkit")]),
            "DJANGO_SETTINGS_MODULE": "shopkit_tests.settings",
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "INFO",
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
            # Batches leave often, so a running process meets the endpoint several times.
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        }
        for name in ("OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_BSP_EXPORT_TIMEOUT"):
            env.pop(name, None)
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD],
            env=env,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        child = Child(proc)
        for stream, into in ((proc.stdout, child.stdout), (proc.stderr, child.stderr)):
            threading.Thread(target=_collect, args=(stream, into, child.changed), daemon=True).start()
        children.append(child)
        return child

    yield start
    for child in children:
        if child.proc.poll() is None:
            child.proc.kill()
        child.proc.wait(timeout=10)


def _exit(child: Child) -> float:
    """Ask the child to emit a last round of spans and exit; the seconds from that round's end to its exit."""
    child.round("exit")
    ended = time.monotonic()
    assert child.proc.wait(timeout=30) == 0, child.stderr
    return time.monotonic() - ended


def _named(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == name]


@pytest.mark.parametrize(
    "endpoint",
    [f"http://127.0.0.1:{_closed_port()}", "http://tempo.invalid:4318"],
    ids=["closed-port", "unresolvable-name"],
)
def test_an_unreachable_trace_endpoint_logs_one_json_warning_and_does_not_slow_the_exit(
    start_child: Callable[[str], Child], endpoint: str
) -> None:
    # given: a process whose trace backend is down
    child = start_child(endpoint)

    # when: batches fail in three rounds while it runs, then it stops with spans still queued
    for _ in range(3):
        child.round("flush")
    exit_seconds = _exit(child)

    # then
    sys.stdout.write(f"\n{endpoint}: exit took {exit_seconds:.2f} s (before the fix: about 10 s)\n")
    events = child.events()
    assert child.stdout == []  # log lines go to stderr, as ever
    [warning] = [e for e in events if e["level"] in {"warning", "error", "critical"}]
    assert warning["event"] == "trace_export_failing"
    assert warning["endpoint"] == endpoint
    assert warning["service"] == "shopkit-tests"
    assert "NameResolutionError" in warning["error"] or "Connection refused" in warning["error"]
    assert [e["event"] for e in events] == ["trace_export_failing"] + ["child_round_done"] * 4
    assert exit_seconds < EXIT_BOUND_SECONDS


def test_a_one_shot_command_meeting_an_unreachable_endpoint_only_at_exit_stops_quickly(
    start_child: Callable[[str], Child],
) -> None:
    # given: like `manage.py seed_demo`: spans, then exit before any batch left
    child = start_child(f"http://127.0.0.1:{_closed_port()}")

    # when
    exit_seconds = _exit(child)

    # then: one try at exit, one warning
    sys.stdout.write(f"\none-shot: exit took {exit_seconds:.2f} s (before the fix: about 9 s)\n")
    events = child.events()
    assert [e["event"] for e in events] == ["child_round_done", "trace_export_failing"]
    assert child.stdout == []  # log lines go to stderr, as ever
    assert exit_seconds < EXIT_BOUND_SECONDS


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    yield receiver
    receiver.close()


def test_a_reachable_receiver_gets_the_spans_and_a_recovery_is_logged_once(
    start_child: Callable[[str], Child], receiver: OtlpReceiver
) -> None:
    # given: the receiver behind a proxy that refuses connections at first
    proxy = TcpProxy("127.0.0.1", int(receiver.endpoint.rsplit(":", 1)[1]))
    try:
        proxy.cut()
        child = start_child(f"http://127.0.0.1:{proxy.port}")
        child.round("flush")
        assert _named(child.events(), "trace_export_failing")

        # when: the backend comes back
        proxy.restore()
        child.round("flush")
        child.round("flush")
        exit_seconds = _exit(child)
    finally:
        proxy.close()

    # then: the spans of the rounds after the recovery and of the last one, flushed at exit (20 each)
    events = child.events()
    assert [e["event"] for e in events if e["event"].startswith("trace_export")] == [
        "trace_export_failing",
        "trace_export_recovered",
    ]
    [recovered] = _named(events, "trace_export_recovered")
    assert (recovered["level"], recovered["endpoint"]) == ("info", f"http://127.0.0.1:{proxy.port}")
    assert recovered["failed_batches"] >= 1
    spans = [s for s in receiver.spans if s.service == "shopkit-tests" and s.name == "work"]
    assert len(spans) == 60
    sys.stdout.write(f"\nreachable receiver: {len(spans)} spans, exit took {exit_seconds:.2f} s\n")
