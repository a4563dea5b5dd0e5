"""Prometheus metrics of the relay and the consumers, registered only in the processes that use them."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from prometheus_client import REGISTRY, Counter, Gauge, start_http_server

from shopkit.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class RelayMetrics:
    published: Counter
    publish_failed: Counter
    backlog: Gauge
    oldest_age: Gauge


@dataclass(frozen=True)
class ConsumerMetrics:
    consumed: Counter
    dead_lettered: Counter
    lag: Gauge


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
    )


@cache
def consumer_metrics() -> ConsumerMetrics:
    return ConsumerMetrics(
        consumed=Counter(
            "shop_events_consumed_total",
            "Events consumed, by outcome (processed, duplicate, skipped, failed).",
            ["topic", "consumer", "outcome"],
        ),
        dead_lettered=Counter(
            "shop_events_dead_lettered_total", "Messages sent to the dead-letter topic.", ["topic", "consumer"]
        ),
        lag=Gauge(
            "shop_kafka_consumer_lag",
            "Messages behind the partition's high watermark.",
            ["topic", "partition", "group"],
            multiprocess_mode="max",
        ),
    )


_served: set[int] = set()


def serve_metrics(port: int) -> None:
    """Expose the default registry on `port` once per process (0 means no endpoint)."""
    if port <= 0 or port in _served:
        return
    start_http_server(port, registry=REGISTRY)
    _served.add(port)
    log.info("metrics_server_started", port=port)
