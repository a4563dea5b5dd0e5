"""Fault switches: `python -m tools.faults` writes flagd's file, real flagd providers in other processes read it.

No mocks: the OpenFeature SDK and flagd's in-process file provider run for real in subprocesses; only the
flags file lives in tmp_path. No database, Redis or fixed port is used.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from shopkit import faults
from shopkit.testing.faults import faults_cli
from shopkit.testing.polling import poll
from shopkit.testing.processes import child_env, run_python

# A process that prints one fault's value every 20 ms until told to stop (stdin closed) or 60 s pass.
WATCHER = """
import sys, time, select
from shopkit.faults import FAULTS, fault_value
name = sys.argv[1]
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    sys.stdout.write(f"{time.time()} {fault_value(name, FAULTS[name].kind())}\\n")
    sys.stdout.flush()
    if select.select([sys.stdin], [], [], 0.02)[0]:
        break
"""


def _env(flags_file: Path, **extra: str) -> dict[str, str]:
    return child_env(
        drop_prefixes=("SHOP_ENV", "SHOP_FAULTS"),
        SHOP_FAULTS_FILE=str(flags_file),
        SHOP_FAULTS_POLL_MS="100",
        **extra,
    )


def _cli(flags_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_python(["-m", "tools.faults", "--file", str(flags_file), *args], env=_env(flags_file), timeout=60)


def _probe(flags_file: Path, name: str, **env: str) -> str:
    """The fault's value as a fresh process sees it."""
    code = f"from shopkit.faults import FAULTS, fault_value; print(fault_value({name!r}, FAULTS[{name!r}].kind()))"
    result = run_python(["-c", code], env=_env(flags_file, **env), timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


class Watcher:
    def __init__(self, flags_file: Path, name: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WATCHER, name],
            env=_env(flags_file),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )

    def wait_for(self, value: str, *, timeout: float = 15.0) -> float:
        """Read lines until the fault's value is `value`; returns the wall time of that line."""
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            parts = line.split()
            if len(parts) != 2:
                continue  # a log line of the process, not a value
            stamp, seen = parts
            if seen == value:
                return float(stamp)
        raise AssertionError(f"the running process never saw {value!r}")

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def flags_file(tmp_path: Path) -> Path:
    return tmp_path / "var" / "faults.json"


@pytest.fixture
def in_process(flags_file: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """This process's own provider on the test's file."""
    monkeypatch.setenv("SHOP_FAULTS_FILE", str(flags_file))
    monkeypatch.setenv("SHOP_FAULTS_POLL_MS", "50")
    monkeypatch.delenv("SHOP_ENV", raising=False)
    faults.reset()
    yield flags_file
    faults.reset()


def test_cli_writes_a_flagd_file_that_a_provider_reads(flags_file: Path) -> None:
    # when
    result = _cli(flags_file, "set", "products-http-latency", "300")
    # then
    assert result.returncode == 0, result.stderr
    document = json.loads(flags_file.read_text())
    assert document["$schema"] == "https://flagd.dev/schema/v0/flags.json"
    assert document["flags"]["products-http-latency"] == {
        "state": "ENABLED",
        "variants": {"on": 300, "off": 0},
        "defaultVariant": "on",
    }
    assert _probe(flags_file, "products-http-latency") == "300"
    assert list(flags_file.parent.iterdir()) == [flags_file]  # no temporary file left behind


def test_cli_off_keeps_the_value_and_the_list_shows_every_fault(flags_file: Path) -> None:
    # given
    _cli(flags_file, "set", "products-errors", "0.25")
    # when
    off = _cli(flags_file, "off", "products-errors")
    listing = _cli(flags_file, "list")
    # then
    assert off.returncode == 0
    assert _probe(flags_file, "products-errors") == "0.0"
    rows = {line.split()[0]: line.split()[1:3] for line in listing.stdout.splitlines()[1:]}
    assert set(rows) == set(faults.FAULTS)
    assert rows["products-errors"] == ["off", "0.25"]
    assert rows["gateway-cpu-burn"] == ["off", "50"]


def test_cli_refuses_a_share_above_one_and_an_unknown_fault(flags_file: Path) -> None:
    assert _cli(flags_file, "set", "products-errors", "1.5").returncode == 2
    assert _cli(flags_file, "set", "no-such-fault").returncode == 2
    assert not flags_file.exists()


def test_a_running_process_sees_a_fault_switch_on_and_off_without_restart(flags_file: Path) -> None:
    # given: a process running with every fault off (the file does not even exist yet)
    watcher = Watcher(flags_file, "gateway-cpu-burn")
    try:
        watcher.wait_for("0")
        # when
        assert _cli(flags_file, "set", "gateway-cpu-burn", "20").returncode == 0
        switched_on = flags_file.stat().st_mtime
        seen_on = watcher.wait_for("20")
        assert _cli(flags_file, "off", "gateway-cpu-burn").returncode == 0
        switched_off = flags_file.stat().st_mtime
        seen_off = watcher.wait_for("0")
    finally:
        watcher.stop()
    # then: the same process saw both changes (how fast is a measurement, not an assertion)
    sys.stdout.write(
        f"\nfault change seen {seen_on - switched_on:.3f} s (on), {seen_off - switched_off:.3f} s (off)"
        " after the file was replaced; SHOP_FAULTS_POLL_MS=100\n"
    )


def test_production_refuses_faults_unless_enabled(flags_file: Path) -> None:
    # given
    _cli(flags_file, "set", "outbox-relay-stalled")
    # then
    assert _probe(flags_file, "outbox-relay-stalled", SHOP_ENV="production") == "False"
    assert _probe(flags_file, "outbox-relay-stalled", SHOP_ENV="production", SHOP_FAULTS_ENABLED="true") == "True"
    assert _probe(flags_file, "outbox-relay-stalled") == "True"


def test_production_does_not_start_the_provider(flags_file: Path) -> None:
    # when: a production process checks a fault with no flags file around
    assert _probe(flags_file, "memory-leak", SHOP_ENV="production") == "0"
    # then: nothing was started, so nothing created the file
    assert not flags_file.exists()


def test_every_fault_is_off_without_a_file(in_process: Path) -> None:
    # when
    values = {name: faults.fault_enabled(name) for name in faults.FAULTS}
    # then
    assert values == dict.fromkeys(faults.FAULTS, False)
    assert json.loads(in_process.read_text())["flags"] == {}


def test_off_means_no_effect(in_process: Path) -> None:
    # given: every fault written, and then switched off
    for name in faults.FAULTS:
        _cli(in_process, "set", name)
        _cli(in_process, "off", name)
    faults.fault_enabled("memory-leak")  # the provider is started and has read the file
    # when
    started = time.perf_counter()
    faults.apply_call(faults.FAULTS)
    elapsed = time.perf_counter() - started
    # then: nothing raised, nothing kept
    assert faults.apply_memory_leak("memory-leak") == 0
    sys.stdout.write(f"\nevery fault checked once, all off: {elapsed * 1e6:.0f} us\n")


def test_errors_fail_the_share_of_calls(in_process: Path) -> None:
    # given
    _cli(in_process, "set", "products-errors", "1")
    poll(lambda: faults.fault_value("products-errors", 0.0) == 1.0, seconds=10, what="fault products-errors seen")
    # when / then
    with pytest.raises(faults.FaultInjected) as raised:
        faults.apply_errors("products-errors")
    assert raised.value.status == 503
    assert raised.value.code == "fault-injected"


def test_latency_sleeps_the_value(in_process: Path) -> None:
    # given
    _cli(in_process, "set", "products-grpc-latency", "150")
    poll(
        lambda: faults.fault_value("products-grpc-latency", 0) == 150,
        seconds=10,
        what="fault products-grpc-latency seen",
    )
    # when
    started = time.perf_counter()
    faults.apply_latency("products-grpc-latency")
    # then
    assert time.perf_counter() - started >= 0.15


def test_memory_leak_grows_and_stops_at_its_cap(in_process: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # given
    monkeypatch.setattr(faults, "MEMORY_LEAK_CAP_BYTES", 300 * 1024)
    monkeypatch.setattr(faults, "_leak", [])
    monkeypatch.setattr(faults, "_leaked_bytes", 0)
    _cli(in_process, "set", "memory-leak", "128")
    poll(lambda: faults.fault_value("memory-leak", 0) == 128, seconds=10, what="fault memory-leak seen")
    # when
    kept = [faults.apply_memory_leak("memory-leak") for _ in range(5)]
    # then
    assert kept == [128 * 1024, 256 * 1024, 300 * 1024, 300 * 1024, 300 * 1024]


def test_cpu_burn_keeps_the_cpu_busy(in_process: Path) -> None:
    # given
    _cli(in_process, "set", "gateway-cpu-burn", "100")
    poll(lambda: faults.fault_value("gateway-cpu-burn", 0) == 100, seconds=10, what="fault gateway-cpu-burn seen")
    # when
    cpu_before = time.process_time()
    faults.apply_cpu_burn("gateway-cpu-burn")
    # then: 100 ms of CPU time, not sleep
    assert time.process_time() - cpu_before >= 0.1


def test_middleware_answers_a_problem_503_and_leaves_probes_alone(in_process: Path, settings: Any) -> None:
    # given
    settings.SHOP_HTTP_FAULTS = ("products-errors",)
    middleware = faults.FaultMiddleware(lambda request: HttpResponse("ok"))
    _cli(in_process, "set", "products-errors", "1")
    poll(lambda: faults.fault_value("products-errors", 0.0) == 1.0, seconds=10, what="fault products-errors seen")
    # when
    api = middleware(RequestFactory().get("/api/products"))
    probe = middleware(RequestFactory().get("/health/ready"))
    # then
    assert api.status_code == 503
    assert api["Content-Type"] == "application/problem+json"
    assert json.loads(api.content)["type"] == "https://shop.example/problems/fault-injected"
    assert probe.status_code == 200


def test_async_middleware_adds_latency_without_blocking_the_loop(in_process: Path, settings: Any) -> None:
    # given
    settings.SHOP_HTTP_FAULTS = ("products-http-latency",)

    async def view(request: Any) -> HttpResponse:
        return HttpResponse("ok")

    middleware = faults.FaultMiddleware(view)
    _cli(in_process, "set", "products-http-latency", "200")
    poll(
        lambda: faults.fault_value("products-http-latency", 0) == 200,
        seconds=10,
        what="fault products-http-latency seen",
    )

    async def two_requests() -> list[int]:
        responses = await asyncio.gather(*(middleware(RequestFactory().get("/api/x")) for _ in range(2)))
        return [response.status_code for response in responses]

    # when
    started = time.perf_counter()
    statuses = asyncio.run(two_requests())
    elapsed = time.perf_counter() - started
    # then: both slowed, side by side on one loop (asyncio.sleep, not time.sleep)
    assert statuses == [200, 200]
    assert elapsed >= 0.2
    sys.stdout.write(f"\ntwo concurrent async requests with 200 ms latency: {elapsed * 1000:.0f} ms\n")


def test_a_flags_file_that_cannot_be_created_leaves_every_fault_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the file's directory cannot exist (its parent is a regular file)
    (tmp_path / "not-a-directory").write_text("")
    monkeypatch.setenv("SHOP_FAULTS_FILE", str(tmp_path / "not-a-directory" / "faults.json"))
    monkeypatch.delenv("SHOP_ENV", raising=False)
    faults.reset()
    try:
        # when / then: no exception reaches the caller, every fault is off
        assert [faults.fault_enabled(name) for name in faults.FAULTS] == [False] * len(faults.FAULTS)
        faults.apply_call(faults.FAULTS)
    finally:
        faults.reset()


def test_faults_cli_switches_a_fault_in_the_sessions_flags_file_and_off_again(
    flags_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the session's flags file, as the end-to-end and alert suites' processes read it
    monkeypatch.setenv("SHOP_FAULTS_FILE", str(flags_file))

    # when
    faults_cli("set", "products-errors", "0.5")
    switched_on = {name: (on, value) for name, on, value, _ in faults.fault_states(flags_file)}["products-errors"]
    faults_cli("off", "products-errors")
    switched_off = {name: on for name, on, _, _ in faults.fault_states(flags_file)}["products-errors"]

    # then
    assert switched_on == (True, 0.5)
    assert switched_off is False


def test_faults_cli_fails_naming_what_the_cli_said() -> None:
    # when / then
    with pytest.raises(AssertionError, match="no-such-fault"):
        faults_cli("set", "no-such-fault")
