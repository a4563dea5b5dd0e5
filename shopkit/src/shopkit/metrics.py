"""The `/metrics` view (right under several worker processes, with the process tree's CPU and memory); auth counters."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from django.http import HttpRequest, HttpResponse
from prometheus_client import REGISTRY, CollectorRegistry, Counter, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

# shopkit.auth: how often a process fetched the users service's JWKS and why ("first", "expired",
# "unknown_kid"); a steady unknown_kid rate is a flood of made-up key ids, held to one per interval.
JWKS_FETCHES = Counter("shop_jwks_fetches_total", "JWKS fetches by reason and outcome.", ["reason", "outcome"])

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def _children(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        children.extend(int(child) for child in task.read_text().split())
    return children


def _cpu_and_rss(pid: int) -> tuple[float, int]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the command: state is field 3; utime 14, stime 15, rss 24 (1-based, man proc).
    utime, stime, rss_pages = int(fields[11]), int(fields[12]), int(fields[21])
    return (utime + stime) / _CLOCK_TICKS, rss_pages * _PAGE_SIZE


class ProcessTreeCollector(Collector):
    """CPU seconds and resident memory of the server's master process and all its workers together.

    prometheus_client's multi-process mode cannot export per-process metrics, and one worker's own
    numbers would describe a fraction of the service; the sum over the tree is what the service costs.
    """

    def collect(self) -> Iterator[Metric]:
        master = os.getppid()
        pids = [master, *_children(master)] if Path(f"/proc/{master}").exists() else [os.getpid()]
        cpu, rss, count = 0.0, 0, 0
        for pid in pids:
            try:
                pid_cpu, pid_rss = _cpu_and_rss(pid)
            except (OSError, ValueError, IndexError):
                continue  # a worker exited between listing and reading
            cpu, rss, count = cpu + pid_cpu, rss + pid_rss, count + 1
        yield CounterMetricFamily("process_cpu_seconds", "CPU time of the server's processes.", value=cpu)
        yield GaugeMetricFamily(
            "process_resident_memory_bytes", "Resident memory of the server's processes.", value=rss
        )
        yield GaugeMetricFamily("process_count", "Processes of the server (master and workers).", value=count)


def metrics_view(request: HttpRequest) -> HttpResponse:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # noqa: TID251 - prometheus_client's own switch
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        registry.register(ProcessTreeCollector())
    else:
        registry = REGISTRY
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
