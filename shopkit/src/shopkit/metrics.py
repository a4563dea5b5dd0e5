"""The `/metrics` view (right under several worker processes, with the process tree's CPU and memory, in the
format the scraper asks for); latency histograms with trace exemplars; auth counters."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.http import HttpRequest, HttpResponse
from django_prometheus.middleware import PrometheusAfterMiddleware as DjangoPrometheusAfter
from opentelemetry import trace
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.core import CounterMetricFamily, Exemplar, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

# The exemplar's one label: Grafana's Prometheus datasource opens this value in Tempo
# (grafana/provisioning/datasources/datasources.yml, exemplarTraceIdDestinations).
EXEMPLAR_TRACE_ID = "trace_id"

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


def trace_exemplar() -> dict[str, str] | None:
    """The current span's trace id as an exemplar, or None without a sampled span: an exemplar must open a
    trace that was kept (an unsampled trace id leads nowhere in Tempo)."""
    context = trace.get_current_span().get_span_context()
    if not (context.is_valid and context.trace_flags.sampled):
        return None
    return {EXEMPLAR_TRACE_ID: format(context.trace_id, "032x")}


def _multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))  # noqa: TID251 - prometheus_client's own switch


class WorkerExemplars(Collector):
    """Exemplars in multi-process mode: the latest this worker saw per bucket, on the merged histograms.

    prometheus_client keeps no exemplars across processes (its mmap files hold numbers only). Each worker
    remembers, in memory, the latest exemplar of every bucket it observed; the worker that answers a scrape
    adds its own to the merged buckets. Every exemplar shown is a real observation inside the bucket it is
    attached to (the merged count includes it), so it is right; what is lost is only the other workers'
    exemplars of that scrape, which appear when one of them answers a later scrape (sampling, as exemplars
    always are). Bounded: one entry per series and bucket.
    """

    _latest: dict[tuple[str, frozenset[tuple[str, str]]], Exemplar] = {}

    def __init__(self, merged: Collector) -> None:
        self._merged = merged

    @classmethod
    def record(cls, histogram: Histogram, amount: float, exemplar: dict[str, str]) -> None:
        bound = next((b for b in histogram._upper_bounds if amount <= b), None)
        if bound is None:  # NaN: counted in no bucket
            return
        le: str = floatToGoString(bound)  # type: ignore[no-untyped-call]
        labels = {**dict(zip(histogram._labelnames, histogram._labelvalues, strict=True)), "le": le}
        cls._latest[(f"{histogram._name}_bucket", frozenset(labels.items()))] = Exemplar(exemplar, amount, time.time())

    def collect(self) -> Iterator[Metric]:
        latest = dict(self._latest)
        for metric in self._merged.collect():
            if metric.type == "histogram" and latest:
                metric.samples = [self._with_exemplar(sample, latest) for sample in metric.samples]
            yield metric

    @staticmethod
    def _with_exemplar(sample: Sample, latest: dict[tuple[str, frozenset[tuple[str, str]]], Exemplar]) -> Sample:
        exemplar = latest.get((sample.name, frozenset(sample.labels.items())))
        return sample._replace(exemplar=exemplar) if exemplar is not None else sample


def observe_traced(histogram: Histogram, amount: float, exemplar: dict[str, str] | None) -> None:
    """`histogram.observe(amount)` (a child with its labels set) with `exemplar`, kept by this worker too in
    multi-process mode (WorkerExemplars)."""
    histogram.observe(amount, exemplar=exemplar)
    if exemplar is not None and _multiprocess():
        WorkerExemplars.record(histogram, amount, exemplar)


class TracedHistogram(Histogram):
    """A histogram whose every observation carries the current sampled trace as its exemplar (unless the
    caller passes one: a callback running outside the request's context)."""

    def observe(self, amount: float, exemplar: dict[str, str] | None = None) -> None:
        exemplar = exemplar or trace_exemplar()
        super().observe(amount, exemplar=exemplar)
        if exemplar is not None and _multiprocess():
            WorkerExemplars.record(self, amount, exemplar)


class PrometheusAfterMiddleware(DjangoPrometheusAfter):  # type: ignore[misc]
    """django-prometheus' middleware, its `django_http_requests_latency_seconds_by_view_method` with the
    request's trace as exemplar (same name and labels: dashboards and SLO rules stay as they are)."""

    def label_metric(
        self, metric: Any, request: HttpRequest, response: HttpResponse | None = None, **labels: Any
    ) -> Any:
        child = super().label_metric(metric, request, response, **labels)
        if metric is self.metrics.requests_latency_by_view_method:
            return _TracedObservation(child)
        return child


class _TracedObservation:
    def __init__(self, histogram: Histogram) -> None:
        self._histogram = histogram

    def observe(self, amount: float) -> None:
        observe_traced(self._histogram, amount, trace_exemplar())


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Every metric of this service, as OpenMetrics (with exemplars) when the scraper asks for it (Prometheus
    does), else the classic text format (which cannot carry exemplars)."""
    registry: Collector
    if _multiprocess():
        registry = CollectorRegistry()
        registry.register(WorkerExemplars(multiprocess.MultiProcessCollector(None)))  # type: ignore[no-untyped-call]
        registry.register(ProcessTreeCollector())
    else:
        registry = REGISTRY
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encoder(registry), content_type=content_type)
