"""Load tools of `make bench`: wrk runs parsed into figures, and pairs of measurements taken side by side."""

from __future__ import annotations

import re
import statistics
import subprocess
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int = 0


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * _UNITS[unit]


def wrk(url: str, *, seconds: int, connections: int, threads: int = 2) -> Load:
    """One wrk run; non-2xx answers are counted as errors (a benchmark of errors measures nothing)."""
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 30,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    count = int(errors.group(1)) if errors else 0
    count += sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    return Load(rps, p50, p99, count)


def side_by_side(measured: Callable[[], Load], reference: Callable[[], Load], repeats: int) -> tuple[Load, Load]:
    """Alternate the two measurements `repeats` times; each figure is the median of its runs."""
    runs: tuple[list[Load], list[Load]] = ([], [])
    for _ in range(repeats):
        runs[0].append(measured())
        runs[1].append(reference())
    return _median(runs[0]), _median(runs[1])


def _median(loads: list[Load]) -> Load:
    return Load(
        statistics.median(load.rps for load in loads),
        statistics.median(load.p50_ms for load in loads),
        statistics.median(load.p99_ms for load in loads),
        sum(load.errors for load in loads),
    )
