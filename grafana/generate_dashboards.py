"""Generate the Grafana dashboards in grafana/dashboards/ (the JSON files are committed).

    python grafana/generate_dashboards.py           # rewrite the JSON files
    python grafana/generate_dashboards.py --check   # exit 1 if a committed file differs

Every panel names a provisioned datasource by uid (prometheus, loki); every PromQL query uses only
the metric names the services export (the contract is in tests/infra/test_dashboards.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NamedTuple

OUT_DIR = Path(__file__).resolve().parent / "dashboards"

PROMETHEUS = {"type": "prometheus", "uid": "prometheus"}
LOKI = {"type": "loki", "uid": "loki"}

HTTP_JOBS = "gateway|users|products|orders|carts"
SHOP_JOBS = f"{HTTP_JOBS}|products-grpc|users-relay|orders-relay|carts-consumer|products-consumer|orders-expirer"
RI = "$__rate_interval"
REQUESTS = "django_http_requests_total_by_view_transport_method_total"
RESPONSES = "django_http_responses_total_by_status_view_method_total"
LATENCY = "django_http_requests_latency_seconds_by_view_method_bucket"
# Probes and scrapes are not traffic: leave them out of rates and latencies.
NOT_PLATFORM = 'view!~"health-live|health-ready|prometheus-django-metrics"'

Panel = dict[str, Any]


class Layout:
    """Places panels left to right on Grafana's 24-column grid, wrapping to a new row."""

    def __init__(self) -> None:
        self.x = 0
        self.y = 0
        self.row_height = 0
        self.next_id = 1

    def place(self, panel: Panel, w: int, h: int) -> Panel:
        if self.x + w > 24:
            self.x, self.y, self.row_height = 0, self.y + self.row_height, 0
        panel["gridPos"] = {"x": self.x, "y": self.y, "w": w, "h": h}
        panel["id"] = self.next_id
        self.next_id += 1
        self.x += w
        self.row_height = max(self.row_height, h)
        return panel

    def row(self, title: str) -> Panel:
        if self.x:
            self.x, self.y, self.row_height = 0, self.y + self.row_height, 0
        panel = {
            "type": "row",
            "title": title,
            "collapsed": False,
            "panels": [],
            "gridPos": {"x": 0, "y": self.y, "w": 24, "h": 1},
            "id": self.next_id,
        }
        self.next_id += 1
        self.y += 1
        return panel


def prom(expr: str, legend: str = "__auto", *, instant: bool = False, exemplar: bool = False) -> dict[str, Any]:
    """A Prometheus target; `exemplar` draws the histogram's trace ids over a latency (docs/observability.md)."""
    target: dict[str, Any] = {"datasource": PROMETHEUS, "expr": expr, "legendFormat": legend}
    if instant:
        target |= {"instant": True, "range": False}
    else:
        target |= {"range": True}
    if exemplar:
        target["exemplar"] = True
    return target


def thresholds(steps: list[tuple[str, float | None]]) -> dict[str, Any]:
    """Grafana's absolute thresholds: (colour, from value), the first from minus infinity (None)."""
    return {"mode": "absolute", "steps": [{"color": color, "value": value} for color, value in steps]}


def timeseries(
    title: str,
    targets: list[dict[str, Any]],
    unit: str,
    description: str = "",
    *,
    threshold_lines: list[tuple[str, float | None]] | None = None,
) -> Panel:
    for ref, target in zip("ABCDEFGH", targets, strict=False):
        target["refId"] = ref
    custom: dict[str, Any] = {"lineWidth": 1, "fillOpacity": 10, "showPoints": "never"}
    defaults: dict[str, Any] = {"unit": unit, "custom": custom}
    if threshold_lines:
        custom["thresholdsStyle"] = {"mode": "line"}
        defaults["thresholds"] = thresholds(threshold_lines)
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": PROMETHEUS,
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "legend": {"displayMode": "table", "placement": "bottom", "calcs": ["mean", "max", "lastNotNull"]},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    }


def stat(
    title: str,
    target: dict[str, Any],
    unit: str,
    description: str = "",
    *,
    decimals: int | None = None,
    colors: list[tuple[str, float | None]] | None = None,
) -> Panel:
    target["refId"] = "A"
    defaults: dict[str, Any] = {
        "unit": unit,
        "decimals": decimals if decimals is not None else 2 if unit == "percentunit" else 0,
    }
    if colors:
        defaults["thresholds"] = thresholds(colors)
        defaults["color"] = {"mode": "thresholds"}
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": PROMETHEUS,
        "targets": [target],
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "area",
            "textMode": "auto",
        },
    }


def logs(title: str, expr: str, description: str = "") -> Panel:
    return {
        "type": "logs",
        "title": title,
        "description": description,
        "datasource": LOKI,
        "targets": [{"datasource": LOKI, "expr": expr, "refId": "A", "queryType": "range"}],
        "options": {
            "showTime": True,
            "wrapLogMessage": True,
            "prettifyLogMessage": False,
            "enableLogDetails": True,
            "sortOrder": "Descending",
            "dedupStrategy": "none",
        },
    }


def quantiles(metric: str, by: str, selector: str) -> list[dict[str, Any]]:
    """p50, p95 and p99 of a latency histogram, its exemplars on (every latency histogram carries them)."""
    return [
        prom(
            f"histogram_quantile({q}, sum by ({by}, le) (rate({metric}{{{selector}}}[{RI}])))",
            f"p{int(q * 100)} {{{{{by.split(',')[0].strip()}}}}}",
            exemplar=True,
        )
        for q in (0.5, 0.95, 0.99)
    ]


def dashboard(uid: str, title: str, description: str, panels: list[Panel], templating: list[Any]) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["shop"],
        "timezone": "utc",
        "editable": False,
        "graphTooltip": 1,
        "refresh": "30s",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-1h", "to": "now"},
        "links": [
            {
                "type": "dashboards",
                "tags": ["shop"],
                "asDropdown": True,
                "title": "Shop dashboards",
                "includeVars": False,
            }
        ],
        "annotations": {"list": []},
        "templating": {"list": templating},
        "panels": panels,
    }


def service_variable(metric: str) -> dict[str, Any]:
    return {
        "name": "service",
        "label": "Service",
        "type": "query",
        "datasource": PROMETHEUS,
        "query": {"query": f"label_values({metric}, service)", "refId": "service"},
        "definition": f"label_values({metric}, service)",
        "includeAll": True,
        "multi": True,
        "allValue": ".+",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "refresh": 2,
        "sort": 1,
    }


# --- dashboards -------------------------------------------------------------------------------------


def overview() -> dict[str, Any]:
    g = Layout()
    sel = f'service=~"$service", {NOT_PLATFORM}'
    responses = RESPONSES
    panels = [
        g.row("Traffic, errors, duration (RED) per service"),
        g.place(
            timeseries(
                "Request rate",
                [
                    prom(
                        f"sum by (service) (rate({REQUESTS}{{{sel}}}[{RI}]))",
                        "{{service}}",
                    )
                ],
                "reqps",
                "HTTP requests per second handled by each service (health checks and scrapes excluded).",
            ),
            8,
            8,
        ),
        g.place(
            timeseries(
                "5xx error ratio",
                [
                    prom(
                        f'sum by (service) (rate({responses}{{{sel}, status=~"5.."}}[{RI}]))'
                        f" / sum by (service) (rate({responses}{{{sel}}}[{RI}]))",
                        "{{service}}",
                    )
                ],
                "percentunit",
                "Share of responses with a 5xx status. The HighHttp5xxRatio alert fires above 5%.",
            ),
            8,
            8,
        ),
        g.place(
            timeseries(
                "Scrape targets up",
                [prom(f'sum by (job) (up{{job=~"{SHOP_JOBS}"}})', "{{job}}")],
                "short",
                "1 when Prometheus reached the process at its last scrape. TargetDown fires after 2 minutes at 0.",
            ),
            8,
            8,
        ),
        g.place(
            timeseries(
                "Duration p50",
                [quantiles(LATENCY, "service", sel)[0]],
                "s",
            ),
            8,
            8,
        ),
        g.place(
            timeseries(
                "Duration p95",
                [quantiles(LATENCY, "service", sel)[1]],
                "s",
            ),
            8,
            8,
        ),
        g.place(
            timeseries(
                "Duration p99",
                [quantiles(LATENCY, "service", sel)[2]],
                "s",
                "The HighHttpP99Latency alert fires above 1 s for 10 minutes.",
            ),
            8,
            8,
        ),
        g.row("Resources"),
        g.place(
            timeseries(
                "CPU per process",
                [prom(f'sum by (job) (rate(process_cpu_seconds_total{{job=~"{SHOP_JOBS}"}}[{RI}]))', "{{job}}")],
                "percentunit",
                "CPU seconds per second (1 = one full core).",
            ),
            12,
            8,
        ),
        g.place(
            timeseries(
                "Resident memory per process",
                [prom(f'sum by (job) (process_resident_memory_bytes{{job=~"{SHOP_JOBS}"}})', "{{job}}")],
                "bytes",
            ),
            12,
            8,
        ),
        g.row("Database and cache"),
        g.place(
            timeseries(
                "Database queries",
                [prom(f'sum by (service) (rate(django_db_execute_total{{service=~"$service"}}[{RI}]))', "{{service}}")],
                "ops",
            ),
            8,
            8,
        ),
        g.place(
            timeseries(
                "Database query duration p95",
                [
                    prom(
                        "histogram_quantile(0.95, sum by (service, le) "
                        f'(rate(django_db_query_duration_seconds_bucket{{service=~"$service"}}[{RI}])))',
                        "{{service}}",
                    )
                ],
                "s",
            ),
            8,
            8,
        ),
        g.place(
            timeseries(
                "Cache hit ratio",
                [
                    prom(
                        f'sum by (service) (rate(django_cache_get_hits_total{{service=~"$service"}}[{RI}]))'
                        f' / sum by (service) (rate(django_cache_get_total{{service=~"$service"}}[{RI}]))',
                        "{{service}}",
                    )
                ],
                "percentunit",
                "Hits over lookups; misses are django_cache_get_misses_total.",
            ),
            8,
            8,
        ),
    ]
    return dashboard(
        "shop-overview",
        "Shop / Microservices Overview",
        "Rate, errors and duration of every Shop service, with process CPU and memory.",
        panels,
        [service_variable("django_http_requests_total_by_view_transport_method_total")],
    )


def errors() -> dict[str, Any]:
    g = Layout()
    responses = RESPONSES
    upstream = "shop_gateway_upstream_requests_total"
    sel = 'service=~"$service"'
    panels = [
        g.row("HTTP errors"),
        g.place(
            timeseries(
                "5xx responses by service and status",
                [
                    prom(
                        f'sum by (service, status) (rate({responses}{{{sel}, status=~"5.."}}[{RI}]))',
                        "{{service}} {{status}}",
                    )
                ],
                "reqps",
            ),
            12,
            8,
        ),
        g.place(
            timeseries(
                "Unhandled exceptions by type",
                [
                    prom(
                        f"sum by (service, type) (rate(django_http_exceptions_total_by_type_total{{{sel}}}[{RI}]))",
                        "{{service}} {{type}}",
                    )
                ],
                "ops",
                "Exceptions that escaped a view: each one is also an error log line with a trace id.",
            ),
            12,
            8,
        ),
        g.place(
            timeseries(
                "Top views by 5xx rate",
                [
                    prom(
                        f'topk(10, sum by (service, view, method) (rate({responses}{{{sel}, status=~"5.."}}[{RI}])))',
                        "{{service}} {{method}} {{view}}",
                    )
                ],
                "reqps",
            ),
            12,
            8,
        ),
        g.place(
            timeseries(
                "4xx responses by service and status",
                [
                    prom(
                        f'sum by (service, status) (rate({responses}{{{sel}, status=~"4.."}}[{RI}]))',
                        "{{service}} {{status}}",
                    )
                ],
                "reqps",
                "Client errors: validation (400), auth (401/403), not found (404), conflicts (409), rate limits (429).",
            ),
            12,
            8,
        ),
        g.row("gRPC and upstream errors"),
        g.place(
            timeseries(
                "gRPC server errors by method and code",
                [
                    prom(
                        "sum by (grpc_method, grpc_code) "
                        f'(rate(shop_grpc_server_handled_total{{grpc_code!="OK"}}[{RI}]))',
                        "{{grpc_method}} {{grpc_code}}",
                    )
                ],
                "ops",
            ),
            12,
            8,
        ),
        g.place(
            timeseries(
                "Gateway upstream failures",
                [
                    prom(
                        f'sum by (upstream, outcome) (rate({upstream}{{outcome!="ok"}}[{RI}]))',
                        "{{upstream}} {{outcome}}",
                    )
                ],
                "reqps",
            ),
            12,
            8,
        ),
        g.row("Error logs (Loki)"),
        g.place(
            logs(
                "Recent error logs",
                '{project="shop", level=~"error|critical"}',
                "JSON error lines of every Shop process. Open a line and follow TraceID to its trace in Tempo.",
            ),
            24,
            14,
        ),
    ]
    return dashboard(
        "shop-errors",
        "Shop / Error Tracking",
        "5xx responses, unhandled exceptions, failing gRPC calls and upstreams, and the error logs behind them.",
        panels,
        [service_variable("django_http_responses_total_by_status_view_method_total")],
    )


def gateway() -> dict[str, Any]:
    g = Layout()
    gw = f'job="gateway", {NOT_PLATFORM}'
    upstream = "shop_gateway_upstream_requests_total"
    panels = [
        g.row("Traffic"),
        g.place(
            stat(
                "Requests per second",
                prom(f"sum(rate({REQUESTS}{{{gw}}}[{RI}]))", instant=True),
                "reqps",
            ),
            6,
            5,
        ),
        g.place(
            stat(
                "5xx ratio",
                prom(
                    f'sum(rate({RESPONSES}{{{gw}, status=~"5.."}}[{RI}])) / sum(rate({RESPONSES}{{{gw}}}[{RI}]))',
                    instant=True,
                ),
                "percentunit",
            ),
            6,
            5,
        ),
        g.place(
            stat(
                "Rate-limited requests (last hour)",
                prom("sum(increase(shop_gateway_rate_limited_total[1h]))", instant=True),
                "short",
            ),
            6,
            5,
        ),
        g.place(
            stat(
                "Circuit-open rejections (last hour)",
                prom(f'sum(increase({upstream}{{outcome="circuit_open"}}[1h]))', instant=True),
                "short",
            ),
            6,
            5,
        ),
        g.place(
            timeseries(
                "Requests by route",
                [
                    prom(
                        f"sum by (view, method) (rate({REQUESTS}{{{gw}}}[{RI}]))",
                        "{{method}} {{view}}",
                    )
                ],
                "reqps",
            ),
            12,
            8,
        ),
        g.place(
            timeseries(
                "Responses by status",
                [
                    prom(
                        f"sum by (status) (rate({RESPONSES}{{{gw}}}[{RI}]))",
                        "{{status}}",
                    )
                ],
                "reqps",
            ),
            12,
            8,
        ),
        g.row("Latency by route"),
        *[
            g.place(
                timeseries(
                    f"Route latency p{int(q * 100)}",
                    [
                        prom(
                            f"histogram_quantile({q}, sum by (view, le) (rate({LATENCY}{{{gw}}}[{RI}])))",
                            "{{view}}",
                            exemplar=True,
                        )
                    ],
                    "s",
                ),
                8,
                8,
            )
            for q in (0.5, 0.95, 0.99)
        ],
        g.row("Upstreams (users, products, orders, carts)"),
        g.place(
            timeseries(
                "Upstream requests by outcome",
                [prom(f"sum by (upstream, outcome) (rate({upstream}[{RI}]))", "{{upstream}} {{outcome}}")],
                "reqps",
                "outcome: ok, error (5xx), timeout, unavailable (connection refused), circuit_open (not even tried).",
            ),
            12,
            8,
        ),
        g.place(
            timeseries(
                "Upstream error ratio",
                [
                    prom(
                        f'sum by (upstream) (rate({upstream}{{outcome!="ok"}}[{RI}]))'
                        f" / sum by (upstream) (rate({upstream}[{RI}]))",
                        "{{upstream}}",
                    )
                ],
                "percentunit",
            ),
            12,
            8,
        ),
        g.place(
            timeseries(
                "Upstream duration p95",
                [
                    prom(
                        "histogram_quantile(0.95, sum by (upstream, le) "
                        f"(rate(shop_gateway_upstream_duration_seconds_bucket[{RI}])))",
                        "{{upstream}}",
                        exemplar=True,
                    )
                ],
                "s",
            ),
            12,
            8,
        ),
        g.place(
            timeseries(
                "Rate-limited requests by scope",
                [prom(f"sum by (scope) (rate(shop_gateway_rate_limited_total[{RI}]))", "{{scope}}")],
                "reqps",
                "Requests answered 429 by the gateway's limits (login, register, checkout, default).",
            ),
            12,
            8,
        ),
    ]
    return dashboard(
        "shop-gateway",
        "Shop / Gateway",
        "The single entry point: traffic and latency by route, upstream health, rate limiting.",
        panels,
        [],
    )


def business() -> dict[str, Any]:
    g = Layout()
    rng = "$__range"
    panels = [
        g.row("In the selected time range"),
        g.place(
            stat("Users registered", prom(f"sum(increase(shop_users_registered_total[{rng}]))", instant=True), "short"),
            4,
            5,
        ),
        g.place(
            stat("Orders created", prom(f"sum(increase(shop_orders_created_total[{rng}]))", instant=True), "short"),
            4,
            5,
        ),
        g.place(
            stat("Orders cancelled", prom(f"sum(increase(shop_orders_cancelled_total[{rng}]))", instant=True), "short"),
            4,
            5,
        ),
        g.place(
            stat(
                "Revenue",
                prom(f"sum by (currency) (increase(shop_order_value_total[{rng}]))", "{{currency}}", instant=True),
                "none",
                "Sum of order totals, per currency.",
            ),
            4,
            5,
        ),
        g.place(
            stat(
                "Checkout failure rate",
                prom(
                    f"sum(increase(shop_checkout_failures_total[{rng}]))"
                    f" / (sum(increase(shop_checkout_failures_total[{rng}]))"
                    f" + sum(increase(shop_orders_created_total[{rng}])))",
                    instant=True,
                ),
                "percentunit",
            ),
            4,
            5,
        ),
        g.place(
            stat(
                "Cart-to-order conversion",
                prom(
                    f"sum(increase(shop_orders_created_total[{rng}]))"
                    f" / sum(increase(shop_cart_additions_total[{rng}]))",
                    instant=True,
                ),
                "percentunit",
                "Orders created per item added to a cart.",
            ),
            4,
            5,
        ),
        g.row("Over time"),
        g.place(
            timeseries(
                "Orders and registrations per hour",
                [
                    prom("sum(increase(shop_orders_created_total[1h]))", "orders"),
                    prom("sum(increase(shop_orders_cancelled_total[1h]))", "cancelled"),
                    prom("sum(increase(shop_users_registered_total[1h]))", "registrations"),
                    prom("sum(increase(shop_cart_additions_total[1h]))", "cart additions"),
                ],
                "short",
            ),
            12,
            8,
        ),
        g.place(
            timeseries(
                "Revenue per hour",
                [prom("sum by (currency) (increase(shop_order_value_total[1h]))", "{{currency}}")],
                "none",
            ),
            12,
            8,
        ),
        g.place(
            timeseries(
                "Checkout failures by reason",
                [prom(f"sum by (reason) (rate(shop_checkout_failures_total[{RI}]))", "{{reason}}")],
                "ops",
                "insufficient_stock, product_unavailable, empty_cart, products_unavailable (gRPC down). "
                "CheckoutFailureSpike fires above 25% of attempts.",
            ),
            12,
            8,
        ),
        g.place(
            timeseries(
                "Average order value",
                [
                    prom(
                        "sum by (currency) (increase(shop_order_value_total[1h]))"
                        " / ignoring (currency) group_left sum(increase(shop_orders_created_total[1h]))",
                        "{{currency}}",
                    )
                ],
                "none",
            ),
            12,
            8,
        ),
    ]
    return dashboard(
        "shop-business",
        "Shop / Business",
        "Registrations, orders, revenue, checkout failures and cart-to-order conversion.",
        panels,
        [],
    )


def events_and_grpc() -> dict[str, Any]:
    g = Layout()
    panels = [
        g.row("Kafka: publishing (outbox relays)"),
        g.place(
            timeseries(
                "Events published by type",
                [prom(f"sum by (topic, event_type) (rate(shop_events_published_total[{RI}]))", "{{event_type}}")],
                "ops",
            ),
            8,
            8,
        ),
        g.place(
            timeseries(
                "Outbox backlog",
                [prom("sum by (service) (shop_outbox_backlog)", "{{service}}")],
                "short",
                "Outbox rows written but not yet published to Kafka.",
            ),
            8,
            8,
        ),
        g.place(
            timeseries(
                "Oldest unsent outbox event",
                [prom("max by (service) (shop_outbox_oldest_age_seconds)", "{{service}}")],
                "s",
                "OutboxOldestEventAgeHigh fires above 5 minutes.",
            ),
            8,
            8,
        ),
        g.place(
            timeseries(
                "Publish failures",
                [prom(f"sum by (topic) (rate(shop_events_publish_failed_total[{RI}]))", "{{topic}}")],
                "ops",
                "Failed produce attempts; the relay retries, so events are delayed, not lost.",
            ),
            8,
            8,
        ),
        g.place(
            timeseries(
                "Dead and held outbox rows",
                [
                    prom("max by (service) (shop_outbox_dead_rows)", "{{service}} dead"),
                    prom("max by (service) (shop_outbox_held_rows)", "{{service}} held"),
                ],
                "short",
                "Rows the relay gave up on (OutboxDeadRows fires above 0; requeue them in the service's admin)"
                " and the later rows of their keys waiting behind them.",
            ),
            8,
            8,
        ),
        g.row("Kafka: consuming"),
        g.place(
            timeseries(
                "Events consumed by outcome",
                [
                    prom(
                        f"sum by (consumer, outcome) (rate(shop_events_consumed_total[{RI}]))",
                        "{{consumer}} {{outcome}}",
                    )
                ],
                "ops",
                "processed, duplicate (already seen: skipped), failed (retried, then dead-lettered) or rejected"
                " (source not the topic's owner: dead-lettered unhandled).",
            ),
            8,
            8,
        ),
        g.place(
            timeseries(
                "Consumer lag",
                [prom("sum by (group, topic) (shop_kafka_consumer_lag)", "{{group}} {{topic}}")],
                "short",
                "Messages not yet consumed, summed over partitions. KafkaConsumerLagHigh fires above 1000.",
            ),
            8,
            8,
        ),
        g.place(
            timeseries(
                "Dead-lettered events",
                [
                    prom(
                        f"sum by (consumer, topic) (increase(shop_events_dead_lettered_total[{RI}]))",
                        "{{consumer}} {{topic}}",
                    )
                ],
                "short",
                "Events moved to <topic>.dlq after the retries ran out. Any is an alert (EventsDeadLettered).",
            ),
            8,
            8,
        ),
        g.place(
            timeseries(
                "Event handling p95 by consumer",
                [
                    prom(
                        "histogram_quantile(0.95, sum by (consumer, topic, le) "
                        f"(rate(shop_event_handling_seconds_bucket[{RI}])))",
                        "{{consumer}} {{topic}}",
                        exemplar=True,
                    )
                ],
                "s",
                "From parsing an event to its outcome (handler, retries, dedupe), every outcome. An exemplar opens"
                " the consumer's trace, which continues the producer's.",
            ),
            24,
            8,
        ),
        g.row("gRPC: products.v1.ProductService"),
        g.place(
            timeseries(
                "Server calls by method and code",
                [
                    prom(
                        f"sum by (grpc_method, grpc_code) (rate(shop_grpc_server_handled_total[{RI}]))",
                        "{{grpc_method}} {{grpc_code}}",
                    )
                ],
                "ops",
            ),
            12,
            8,
        ),
        g.place(
            timeseries(
                "Server error ratio by method",
                [
                    prom(
                        f'sum by (grpc_method) (rate(shop_grpc_server_handled_total{{grpc_code!="OK"}}[{RI}]))'
                        f" / sum by (grpc_method) (rate(shop_grpc_server_handled_total[{RI}]))",
                        "{{grpc_method}}",
                    )
                ],
                "percentunit",
                "Business refusals (NOT_FOUND, FAILED_PRECONDITION for stock) count here too.",
            ),
            12,
            8,
        ),
        g.place(
            timeseries(
                "Server latency by method",
                quantiles("shop_grpc_server_handling_seconds_bucket", "grpc_method", ""),
                "s",
            ),
            12,
            8,
        ),
        g.place(
            timeseries(
                "Client latency p95 by caller and method",
                [
                    prom(
                        "histogram_quantile(0.95, sum by (service, grpc_method, le) "
                        f"(rate(shop_grpc_client_handling_seconds_bucket[{RI}])))",
                        "{{service}} {{grpc_method}}",
                        exemplar=True,
                    )
                ],
                "s",
            ),
            12,
            8,
        ),
        g.place(
            timeseries(
                "Client calls by caller and code",
                [
                    prom(
                        f"sum by (service, grpc_code) (rate(shop_grpc_client_handled_total[{RI}]))",
                        "{{service}} {{grpc_code}}",
                    )
                ],
                "ops",
                "DEADLINE_EXCEEDED and UNAVAILABLE here become 503 problems for the customer.",
            ),
            24,
            8,
        ),
    ]
    return dashboard(
        "shop-events-grpc",
        "Shop / Events and gRPC",
        "Kafka throughput, consumer lag, dead letters, outbox backlog and age; gRPC latency and errors.",
        panels,
        [],
    )


# --- SLOs: the same routes, thresholds and objectives as compose/prometheus/rules/shop-slo.yml ----------
# (tests/infra/test_dashboards.py checks that each selector here is the one its recording rules use).


class Slo(NamedTuple):
    name: str  # the `slo` label
    title: str
    routes: str  # a selector of the gateway's route labels
    threshold: str  # the latency bucket (`le`) a good response is in
    threshold_text: str


SLOS = (
    Slo(
        "browse",
        "Browse",
        'job="gateway", view=~"api:category_list|api:product_list|api:product_detail", method="GET"',
        "0.5",
        "0.5 s",
    ),
    Slo(
        "cart",
        "Cart",
        'job="gateway", view=~"api:cart_item_add|api:cart_item_update", method=~"POST|PATCH|DELETE"',
        "0.5",
        "0.5 s",
    ),
    Slo("checkout", "Checkout", 'job="gateway", view="api:checkout", method="POST"', "1.0", "1 s"),
)
SLIS = {"availability": "99.9% of responses not 5xx", "latency": "99% of responses faster than {threshold}"}
SLO_WINDOWS = ("5m", "30m", "1h", "6h", "3d")
DAYS_30_IN_MINUTES = 30 * 24 * 60
# The paging and ticket factors of the alerts: 1 spends the budget in exactly 30 days.
BURN_LINES: list[tuple[str, float | None]] = [("green", None), ("yellow", 1), ("orange", 6), ("red", 14.4)]
# Traffic-weighted share of bad events over 30 days, from the 5-minute rates the rules record.
BUDGET_SPENT = (
    "(sum_over_time(slo:sli_bad_events:rate5m[30d]) / sum_over_time(slo:sli_events:rate5m[30d]))"
    " / slo:error_budget:ratio"
)


def slo_dashboard() -> dict[str, Any]:
    g = Layout()
    panels = [
        g.row("Error budget over the last 30 days"),
        g.place(
            stat(
                "Objective",
                prom("slo:objective:ratio", "{{slo}} {{sli}}", instant=True),
                "percentunit",
                "The share of good events each SLO promises over 30 days (docs/slo.md says why).",
            ),
            6,
            6,
        ),
        g.place(
            stat(
                "Error budget left",
                prom(f"1 - {BUDGET_SPENT}", "{{slo}} {{sli}}", instant=True),
                "percentunit",
                "1 - (bad events / events over 30 days) / (1 - objective). Below 0 the SLO is missed: "
                "spend what is left on reliability, not on risky changes.",
                colors=[("red", None), ("orange", 0), ("green", 0.25)],
            ),
            9,
            6,
        ),
        g.place(
            stat(
                "Error budget left, in minutes of full outage",
                prom(
                    f"(1 - {BUDGET_SPENT}) * slo:error_budget:ratio * {DAYS_30_IN_MINUTES}",
                    "{{slo}} {{sli}}",
                    instant=True,
                ),
                "m",
                "How long every request could fail (or be slow) before the SLO is missed: "
                "43.2 minutes per 30 days for 99.9%, 7.2 hours for 99%.",
                colors=[("red", None), ("orange", 0), ("green", 1)],
            ),
            9,
            6,
        ),
        g.row("Burn rate per window (1 = the whole budget in exactly 30 days)"),
    ]
    for sli, promise in SLIS.items():
        for slo in SLOS:
            m = f'{{slo="{slo.name}", sli="{sli}"}}'
            panels.append(
                g.place(
                    timeseries(
                        f"{slo.title} {sli}: {promise.format(threshold=slo.threshold_text)}",
                        [
                            prom(f"slo:sli_error:ratio_rate{window}{m} / slo:error_budget:ratio{m}", window)
                            for window in SLO_WINDOWS
                        ],
                        "suffix:x",
                        f"{slo.title}{sli.title()}BudgetBurn pages when 1h and 5m are both above 14.4 or 6h and 30m "
                        "above 6, and opens a ticket when 3d and 6h are above 1 (the lines).",
                        threshold_lines=BURN_LINES,
                    ),
                    8,
                    8,
                )
            )
    bad_5xx = " or ".join(
        f'sum by (view, method, status) (rate({RESPONSES}{{{slo.routes}, status=~"5.."}}[{RI}]))' for slo in SLOS
    )
    slow = " or ".join(
        f'(sum by (view, method) (rate({LATENCY}{{{slo.routes}, le="+Inf"}}[{RI}]))'
        f' - sum by (view, method) (rate({LATENCY}{{{slo.routes}, le="{slo.threshold}"}}[{RI}])))'
        for slo in SLOS
    )
    panels += [
        g.row("The events that burned it"),
        g.place(
            timeseries(
                "5xx on SLO routes, by route and status",
                [prom(bad_5xx, "{{method}} {{view}} {{status}}")],
                "reqps",
                "Bad events of the availability SLOs. GET api:checkout is the order list (not in an SLO); "
                "503 and 504 are a downstream the gateway could not reach in time (see Shop / Gateway).",
            ),
            12,
            8,
        ),
        g.place(
            timeseries(
                "Responses slower than the SLO threshold, by route",
                [prom(slow, "{{method}} {{view}}")],
                "reqps",
                "Bad events of the latency SLOs: browse and cart over 0.5 s, checkout over 1 s.",
            ),
            12,
            8,
        ),
        g.place(
            timeseries(
                "Bad events per SLO",
                [prom("slo:sli_bad_events:rate5m", "{{slo}} {{sli}}")],
                "reqps",
                "Per second over 5 minutes, as the recording rules count them.",
            ),
            12,
            8,
        ),
        g.place(
            timeseries(
                "Events per SLO",
                [prom("slo:sli_events:rate5m", "{{slo}} {{sli}}")],
                "reqps",
                "Requests the SLOs judge, per second over 5 minutes: at low traffic a few bad events move the "
                "ratio a lot.",
            ),
            12,
            8,
        ),
        g.place(
            logs(
                "Gateway error lines",
                '{project="shop", service="gateway", level=~"error|critical"}',
                "5xx access lines and errors of the gateway; a line's trace_id opens the request's trace in Tempo.",
            ),
            24,
            12,
        ),
    ]
    return dashboard(
        "shop-slo",
        "Shop / SLOs and Error Budgets",
        "Browse, cart and checkout SLOs measured at the gateway: budget left over 30 days, burn rate per "
        "alert window, and the requests that burned it. docs/slo.md explains the targets and alerts.",
        panels,
        [],
    )


# --- the data stores, seen from the server side (postgres-exporter, redis_exporter) ---------------------
# One postgres-exporter per database (jobs <service>-db-exporter, `service` the database) and one
# redis_exporter; metric names common to Debian's exporters (0.11, 1.45) and compose's images.
PG_JOBS = "users-db-exporter|products-db-exporter|orders-db-exporter|carts-db-exporter"
PG = f'job=~"{PG_JOBS}"'
REDIS = 'job="redis-exporter"'


def _pg_rate(metric: str) -> str:
    return f"sum by (service) (rate({metric}{{{PG}}}[{RI}]))"


def _redis_rate(metric: str) -> str:
    return f"sum(rate({metric}{{{REDIS}}}[{RI}]))"


def datastores_dashboard() -> dict[str, Any]:
    g = Layout()
    up_colors: list[tuple[str, float | None]] = [("red", None), ("green", 1)]
    pg_connections = f"sum by (service) (pg_stat_database_numbackends{{{PG}}})"
    pg_max = f"max by (service) (pg_settings_max_connections{{{PG}}})"
    redis_max = f"redis_memory_max_bytes{{{REDIS}}} > 0"
    panels = [
        g.row("PostgreSQL (one server per service)"),
        g.place(
            stat(
                "PostgreSQL up",
                prom(f"min by (service) (pg_up{{{PG}}})", "{{service}}", instant=True),
                "short",
                "1: the exporter reaches its database (PostgresDown fires after 1 minute at 0).",
                colors=up_colors,
            ),
            6,
            6,
        ),
        g.place(
            timeseries(
                "PostgreSQL connections vs max_connections",
                [prom(pg_connections, "{{service}} connections"), prom(pg_max, "{{service}} max_connections")],
                "short",
                "Client connections over every database of the server (pg_stat_database.numbackends), "
                "against the server's max_connections.",
            ),
            9,
            6,
        ),
        g.place(
            timeseries(
                "PostgreSQL connections used",
                [prom(f"{pg_connections} / {pg_max}", "{{service}}")],
                "percentunit",
                "Share of max_connections in use; PostgresConnectionsNearLimit fires above 80% for 5 minutes.",
                threshold_lines=[("green", None), ("orange", 0.8)],
            ),
            9,
            6,
        ),
        g.place(
            timeseries(
                "PostgreSQL transactions",
                [
                    prom(_pg_rate("pg_stat_database_xact_commit"), "{{service}} commit"),
                    prom(_pg_rate("pg_stat_database_xact_rollback"), "{{service}} rollback"),
                ],
                "ops",
                "Transactions committed and rolled back per second, every database of the server.",
            ),
            12,
            8,
        ),
        g.place(
            timeseries(
                "PostgreSQL buffer cache hit ratio",
                [
                    prom(
                        f"{_pg_rate('pg_stat_database_blks_hit')} / ({_pg_rate('pg_stat_database_blks_hit')}"
                        f" + {_pg_rate('pg_stat_database_blks_read')})",
                        "{{service}}",
                    )
                ],
                "percentunit",
                "blks_hit / (blks_hit + blks_read): blocks found in shared buffers rather than read from disk "
                "(or the OS cache). Below ~99% on a small working set: shared_buffers too small.",
            ),
            12,
            8,
        ),
        g.place(
            timeseries(
                "PostgreSQL locks by mode",
                [prom(f"sum by (service, mode) (pg_locks_count{{{PG}}}) > 0", "{{service}} {{mode}}")],
                "short",
                "Locks held or awaited (pg_locks), by mode; modes at 0 are left out. Many exclusive locks that "
                "stay are transactions waiting on each other.",
            ),
            12,
            8,
        ),
        g.place(
            timeseries(
                "PostgreSQL deadlocks",
                [prom(f"sum by (service) (increase(pg_stat_database_deadlocks{{{PG}}}[{RI}]))", "{{service}}")],
                "short",
                "Deadlocks detected (one transaction of each was aborted). Stock is locked in a fixed order, so "
                "any deadlock is a bug to look for.",
            ),
            12,
            8,
        ),
        g.row("Redis (caches and rate-limit counters)"),
        g.place(
            stat(
                "Redis up",
                prom(f"min(redis_up{{{REDIS}}})", "redis", instant=True),
                "short",
                "1: the exporter reaches Redis (RedisDown fires after 1 minute at 0).",
                colors=up_colors,
            ),
            4,
            6,
        ),
        g.place(
            stat(
                "Redis connected clients",
                prom(f"sum(redis_connected_clients{{{REDIS}}})", "clients", instant=True),
                "short",
                "Client connections, the exporter's own included.",
            ),
            4,
            6,
        ),
        g.place(
            timeseries(
                "Redis memory used vs maxmemory",
                [prom(f"redis_memory_used_bytes{{{REDIS}}}", "used"), prom(redis_max, "maxmemory")],
                "bytes",
                "maxmemory is drawn only where it is set (0 is unlimited; compose sets 128 MB, allkeys-lru).",
            ),
            8,
            6,
        ),
        g.place(
            timeseries(
                "Redis memory used (share of maxmemory)",
                [prom(f"redis_memory_used_bytes{{{REDIS}}} / ({redis_max})", "used")],
                "percentunit",
                "RedisMemoryNearLimit fires above 90% for 5 minutes.",
                threshold_lines=[("green", None), ("orange", 0.9)],
            ),
            8,
            6,
        ),
        g.place(
            timeseries(
                "Redis keyspace hits and misses",
                [
                    prom(_redis_rate("redis_keyspace_hits_total"), "hits"),
                    prom(_redis_rate("redis_keyspace_misses_total"), "misses"),
                ],
                "ops",
                "Key lookups per second that found their key, and that did not (every database).",
            ),
            8,
            8,
        ),
        g.place(
            timeseries(
                "Redis hit ratio",
                [
                    prom(
                        f"{_redis_rate('redis_keyspace_hits_total')} / ({_redis_rate('redis_keyspace_hits_total')}"
                        f" + {_redis_rate('redis_keyspace_misses_total')})",
                        "hit ratio",
                    )
                ],
                "percentunit",
                "Server side, every cache and the rate-limit counters together; the services' own cache panels "
                "(Microservices Overview) split it per service.",
            ),
            8,
            8,
        ),
        g.place(
            timeseries(
                "Redis evictions and expirations",
                [
                    prom(_redis_rate("redis_evicted_keys_total"), "evicted"),
                    prom(_redis_rate("redis_expired_keys_total"), "expired"),
                ],
                "ops",
                "Keys evicted at maxmemory (allkeys-lru: rate-limit counters too), and keys whose timeout ended.",
            ),
            8,
            8,
        ),
    ]
    return dashboard(
        "shop-datastores",
        "Shop / Data Stores",
        "PostgreSQL (one server per service) and Redis seen from the server side, through their exporters: "
        "connections, transactions, locks, deadlocks, cache hit ratios, memory and evictions. pgAdmin and "
        "RedisInsight (`--profile tools`) look inside.",
        panels,
        [],
    )


DASHBOARDS = (overview, errors, gateway, business, events_and_grpc, slo_dashboard, datastores_dashboard)


def render_all() -> dict[str, str]:
    """File name -> JSON text, exactly as committed."""
    rendered = {}
    for build in DASHBOARDS:
        board = build()
        rendered[f"{board['uid']}.json"] = json.dumps(board, indent=2, sort_keys=True) + "\n"
    return rendered


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name, text in render_all().items():
        path = OUT_DIR / name
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            OUT_DIR.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if stale:
        sys.stderr.write(f"out of date: {', '.join(stale)}; run python grafana/generate_dashboards.py\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
