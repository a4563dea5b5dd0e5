"""Prometheus metrics of the gateway: upstream calls by outcome and latency (with the trace as exemplar),
rate-limit rejections."""

from __future__ import annotations

from prometheus_client import Counter

from shopkit.metrics import TracedHistogram

UPSTREAM_REQUESTS = Counter(
    "shop_gateway_upstream_requests_total",
    "Calls from the gateway to a downstream service, by outcome.",
    ["upstream", "outcome"],
)
UPSTREAM_DURATION = TracedHistogram(
    "shop_gateway_upstream_duration_seconds",
    "Time the gateway waited for a downstream service (every attempt, including failures).",
    ["upstream"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
RATE_LIMITED = Counter(
    "shop_gateway_rate_limited_total",
    "Requests the gateway refused with 429, by limit.",
    ["scope"],
)


def initialize(upstreams: list[str]) -> None:
    """Every upstream's every outcome exists at 0 from the start: error panels and ratio alerts see a real
    zero instead of no series at all (Prometheus' advice for labelled counters)."""
    for upstream in upstreams:
        for outcome in UPSTREAM_OUTCOMES:
            UPSTREAM_REQUESTS.labels(upstream=upstream, outcome=outcome)


UPSTREAM_OUTCOMES = ("ok", "error", "unavailable", "timeout", "circuit_open")
