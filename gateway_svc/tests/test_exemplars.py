"""The gateway's latency histograms carry the request's trace id as an exemplar, all the way into Prometheus.

Real processes: uvicorn serving the gateway (one process as `make run` starts it; two workers sharing
PROMETHEUS_MULTIPROC_DIR as compose does), a real HTTP stand-in for the products service, and Debian's
`prometheus` with `--enable-feature=exemplar-storage` scraping the gateway's /metrics every second. A
trace id sent in `traceparent` is looked up through `/api/v1/query_exemplars`.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from opentelemetry.instrumentation.utils import suppress_instrumentation

from gateway_svc.tests.stubs import StubUpstream
from shopkit.testing.exemplars import running_prometheus, stored_exemplars, targets_up, traceparent
from shopkit.testing.server_logs import ServerRun, child_env, free_port, running_server

HTTP_LATENCY = "django_http_requests_latency_seconds_by_view_method_bucket"
UPSTREAM_LATENCY = 'shop_gateway_upstream_duration_seconds_bucket{upstream="products"}'


@pytest.fixture
def products() -> Iterator[StubUpstream]:
    stub = StubUpstream()
    stub.reply("GET", "/api/categories", body={"items": [], "count": 0})
    yield stub
    stub.stop()


@contextmanager
def _gateway(tmp_path: Path, products: StubUpstream, *, workers: int) -> Iterator[tuple[ServerRun, int]]:
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "gateway_svc.asgi:application", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--workers", str(workers), "--no-access-log", "--no-proxy-headers"]
    env = child_env(
        DJANGO_SETTINGS_MODULE="gateway_svc.settings",
        CACHE_URL="locmem://",
        RATE_LIMIT_ENABLED="false",
        USERS_URL=products.url,
        PRODUCTS_URL=products.url,
        ORDERS_URL=products.url,
        CARTS_URL=products.url,
        OTEL_EXPORTER_OTLP_ENDPOINT="",
        OTEL_TRACES_SAMPLER_ARG="1.0",
        SHOP_TRACING_ENABLED="true",
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    if workers > 1:
        metrics_dir = tmp_path / "prometheus-multiproc"
        metrics_dir.mkdir()
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    with running_server(argv, env=env, port=port, tmp_path=tmp_path) as server:
        yield server, port


def _traced_get(base_url: str, *, sampled: bool = True) -> str:
    """GET /api/categories in a new trace, on a new connection (so any worker may take it); its trace id."""
    trace_id = uuid.uuid4().hex
    # This process instruments httpx too: without this, it would replace our traceparent with its own.
    with suppress_instrumentation():
        response = httpx.get(
            f"{base_url}/api/categories", headers={"traceparent": traceparent(trace_id, sampled=sampled)}
        )
    assert response.status_code == 200, response.text
    assert response.headers["X-Trace-Id"] == trace_id
    return trace_id


def _stored_trace_ids(prometheus: str, selector: str) -> dict[str, tuple[float, str]]:
    """trace id -> (observed value, bucket bound) of every exemplar Prometheus stored for `selector`."""
    return {
        exemplar["labels"]["trace_id"]: (float(exemplar["value"]), series["seriesLabels"]["le"])
        for series in stored_exemplars(prometheus, selector)
        for exemplar in series["exemplars"]
    }


def _assert_in_its_bucket(found: dict[str, tuple[float, str]]) -> None:
    for value, le in found.values():
        assert value <= float(le), found


def test_a_sampled_gateway_request_is_found_in_prometheus_by_its_trace_id(
    tmp_path: Path, products: StubUpstream
) -> None:
    # given: the gateway as `make run` starts it, one sampled request and one the caller did not sample
    with _gateway(tmp_path, products, workers=1) as (server, port):
        sampled = _traced_get(server.base_url)
        unsampled = _traced_get(server.base_url, sampled=False)
        target = f"127.0.0.1:{port}"

        # when: Prometheus scrapes the gateway
        with running_prometheus([target], tmp_path) as prometheus:
            started = time.monotonic()
            deadline = started + 30
            while True:
                http, upstream = (_stored_trace_ids(prometheus, q) for q in (HTTP_LATENCY, UPSTREAM_LATENCY))
                if sampled in http and sampled in upstream:
                    break
                assert time.monotonic() < deadline, (targets_up(prometheus), http, upstream)
                time.sleep(0.2)
            health = targets_up(prometheus)
            sys.stdout.write(
                f"\none process: exemplars in Prometheus {time.monotonic() - started:.1f} s after it started\n"
            )

    # then: the sampled request's trace opens from both histograms, in the bucket its latency fell in
    assert health == {target: "up"}
    assert set(http) == set(upstream) == {sampled}
    assert unsampled not in http
    _assert_in_its_bucket(http)
    _assert_in_its_bucket(upstream)


def test_with_two_workers_the_answering_workers_exemplars_reach_prometheus(
    tmp_path: Path, products: StubUpstream
) -> None:
    # given: compose's gateway: two uvicorn workers, one merged metrics view (PROMETHEUS_MULTIPROC_DIR)
    sent: list[str] = []
    with (
        _gateway(tmp_path, products, workers=2) as (server, port),
        running_prometheus([f"127.0.0.1:{port}"], tmp_path) as prometheus,
    ):
        # when: sampled requests on new connections until the worker answering a scrape has handled one
        deadline = time.monotonic() + 60
        while True:
            sent.append(_traced_get(server.base_url))
            http = _stored_trace_ids(prometheus, HTTP_LATENCY)
            upstream = _stored_trace_ids(prometheus, UPSTREAM_LATENCY)
            if http and upstream:
                break
            assert time.monotonic() < deadline, (targets_up(prometheus), len(sent))
            time.sleep(0.2)
        health = targets_up(prometheus)

    # then: every stored exemplar is one of these requests, in its bucket; the merged counts stay right
    assert health == {f"127.0.0.1:{port}": "up"}
    assert set(http) <= set(sent)
    assert set(upstream) <= set(sent)
    _assert_in_its_bucket(http)
    _assert_in_its_bucket(upstream)
    sys.stdout.write(f"\ntwo workers: first exemplar in Prometheus after {len(sent)} requests\n")
