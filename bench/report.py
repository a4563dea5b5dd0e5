"""The table of `make bench`: rows with their targets and verdicts, the machine they ran on, docs/BENCHMARKS.md."""

from __future__ import annotations

import contextlib
import os
import platform
from dataclasses import dataclass
from pathlib import Path

import psutil

from tools.shoprun import ROOT

RESULTS = ROOT / "docs" / "BENCHMARKS.md"


@dataclass
class Row:
    name: str
    measured: str
    reference: str
    ratio: str
    target: str
    holds: bool | None

    @property
    def verdict(self) -> str:
        return {True: "holds", False: "MISSED", None: "-"}[self.holds]


def table(rows: list[Row]) -> str:
    lines = [
        "| row | measured | reference, same run | ratio | target | verdict |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {r.name} | {r.measured} | {r.reference} | {r.ratio} | {r.target} | {r.verdict} |" for r in rows]
    return "\n".join(lines)


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = psutil.virtual_memory().total / 2**30
    return (
        f"{platform.system()} {platform.release()}, {os.cpu_count()} cores ({cpu}), {memory:.0f} GiB RAM, "
        f"Python {platform.python_version()}"
    )


def write_results(stores: str, body: str) -> None:
    """docs/BENCHMARKS.md keeps one section per store setting; this run replaces its own."""
    start, end = f"<!-- bench:{stores}:start -->", f"<!-- bench:{stores}:end -->"
    section = f"{start}\n{body}\n{end}"
    text = RESULTS.read_text() if RESULTS.exists() else ""
    if start in text and end in text:
        text = text[: text.index(start)] + section + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    RESULTS.write_text(text)
