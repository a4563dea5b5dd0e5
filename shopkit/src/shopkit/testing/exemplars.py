"""Exemplar tests: the exemplars a registry exposes, and Debian's Prometheus storing those it scraped."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client import REGISTRY
from prometheus_client.registry import Collector

from shopkit.testing.server_logs import free_port

# What Prometheus sends when it scrapes (2.42): OpenMetrics first, the text format as fallback.
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


def exemplar_trace_ids(sample_name: str, labels: dict[str, str], registry: Collector = REGISTRY) -> list[str]:
    """The `trace_id` of every exemplar on the samples named `sample_name` whose labels include `labels`."""
    found = []
    for metric in registry.collect():
        for sample in metric.samples:
            if sample.name == sample_name and labels.items() <= sample.labels.items() and sample.exemplar:
                found.append(sample.exemplar.labels["trace_id"])
    return found


def traceparent(trace_id: str, *, sampled: bool = True) -> str:
    """A W3C `traceparent` header continuing `trace_id` (32 hex digits) from a made-up parent span."""
    return f"00-{trace_id}-b7ad6b7169203331-{'01' if sampled else '00'}"


@contextmanager
def running_prometheus(targets: list[str], tmp_path: Path) -> Iterator[str]:
    """Debian's `prometheus` with exemplar storage, scraping `targets` (host:port, /metrics) every second;
    yields its base URL once ready."""
    config = tmp_path / "prometheus.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
                "scrape_configs": [{"job_name": "shop", "static_configs": [{"targets": targets}]}],
            }
        )
    )
    with prometheus_on(config, tmp_path) as url:
        yield url


@contextmanager
def prometheus_on(config: Path, tmp_path: Path) -> Iterator[str]:
    """Debian's `prometheus` with exemplar storage (as compose's and `make run`'s) on `config`, data and log
    under `tmp_path`, on a free loopback port; yields its base URL once ready, stops it after."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("Debian's prometheus package is required (.ci/run installs it)")
    log_path = tmp_path / "prometheus.log"
    url = f"http://127.0.0.1:{free_port()}"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(  # noqa: S603 - our own binary path and arguments
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address={url.removeprefix('http://')}",
                "--enable-feature=exemplar-storage",
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise AssertionError(log_path.read_text()[-3000:])
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def stored_exemplars(prometheus: str, selector: str) -> list[dict[str, Any]]:
    """What `/api/v1/query_exemplars` returns for `selector` over the last ten minutes: one entry per series,
    each with `seriesLabels` and `exemplars` (`labels`, `value`, `timestamp`)."""
    now = time.time()
    response = httpx.get(
        f"{prometheus}/api/v1/query_exemplars",
        params={"query": selector, "start": now - 600, "end": now + 60},
        timeout=10,
    )
    response.raise_for_status()
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def targets_up(prometheus: str) -> dict[str, str]:
    """Every scrape target's health ("up", "down", "unknown") by its address, with the last error if any."""
    active = httpx.get(f"{prometheus}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
    return {t["labels"]["instance"]: t["health"] + (f": {t['lastError']}" if t["lastError"] else "") for t in active}
