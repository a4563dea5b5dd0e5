"""Prometheus metrics of the relay and the consumers, registered only in the processes that use them."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from wsgiref.simple_server import WSGIServer

from django.conf import settings
from prometheus_client import REGISTRY, Counter, Gauge, start_http_server

from shopkit.logging import get_logger
from shopkit.metrics import TracedHistogram

log = get_logger(__name__)


@dataclass(frozen=True)
class RelayMetrics:
    published: Counter
    publish_failed: Counter
    backlog: Gauge
    oldest_age: Gauge
    dead_rows: Gauge
    held_rows: Gauge
    dead_total: Counter


@dataclass(frozen=True)
class ConsumerMetrics:
    consumed: Counter
    dead_lettered: Counter
    replayed: Counter
    lag: Gauge
    handling_seconds: TracedHistogram


# Built on first use: web processes import this package too and must not export a relay's gauges as 0.
@cache
def relay_metrics() -> RelayMetrics:
    return RelayMetrics(
        published=Counter("shop_events_published_total", "Events the outbox relay published.", ["topic", "event_type"]),
        publish_failed=Counter("shop_events_publish_failed_total", "Failed publish attempts.", ["topic"]),
        backlog=Gauge("shop_outbox_backlog", "Outbox rows not yet published.", multiprocess_mode="max"),
        oldest_age=Gauge(
            "shop_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox row.", multiprocess_mode="max"
        ),
        dead_rows=Gauge(
            "shop_outbox_dead_rows",
            "Outbox rows the relay gave up on (OUTBOX_MAX_ATTEMPTS refusals), waiting for staff.",
            multiprocess_mode="max",
        ),
        held_rows=Gauge(
            "shop_outbox_held_rows",
            "Outbox rows held back behind a dead row of their key (per-key order).",
            multiprocess_mode="max",
        ),
        dead_total=Counter("shop_outbox_dead_total", "Outbox rows the relay marked dead.", ["topic"]),
    )


@cache
def consumer_metrics() -> ConsumerMetrics:
    return ConsumerMetrics(
        consumed=Counter(
            "shop_events_consumed_total",
            "Events consumed, by outcome (processed, duplicate, skipped, failed, rejected: a forged source).",
            ["topic", "consumer", "outcome"],
        ),
        dead_lettered=Counter(
            "shop_events_dead_lettered_total", "Messages sent to the dead-letter topic.", ["topic", "consumer"]
        ),
        replayed=Counter(
            "shop_events_replayed_total",
            "Dead-lettered events staff replayed, by outcome (processed, duplicate, failed, ...).",
            ["topic", "consumer", "outcome"],
        ),
        lag=Gauge(
            "shop_kafka_consumer_lag",
            "Messages behind the partition's high watermark.",
            ["topic", "partition", "group"],
            multiprocess_mode="max",
        ),
        handling_seconds=TracedHistogram(
            "shop_event_handling_seconds",
            "Time from parsing an event to its outcome (handler, retries, dedupe), with the trace as exemplar. "
            "Outcome: processed, duplicate, failed (dead-lettered), retry_later (redelivered: database down).",
            ["topic", "consumer", "outcome"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
        ),
    )


_served: set[int] = set()


def serve_metrics(port: int) -> WSGIServer | None:
    """Expose the default registry on `port` once per process (0 means no endpoint), on `METRICS_BIND`:
    loopback by default, so a worker's metrics reach no one but a scraper the deployment lets in."""
    if port <= 0 or port in _served:
        return None
    bind: str = settings.METRICS_BIND
    server, _ = start_http_server(port, addr=bind, registry=REGISTRY)
    _served.add(port)
    log.info("metrics_server_started", port=port, bind=bind)
    return server
