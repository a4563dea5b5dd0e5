"""Build the Grafana dashboards in grafana/dashboards/ with grafana-foundation-sdk (the JSON files are committed).

    python grafana/generate_dashboards.py           # rewrite the JSON files
    python grafana/generate_dashboards.py --check   # exit 1 if a committed file differs

Each dashboard is a list of panels, one call each: `ts` (time series), `stat`, `logs` and `row` wrap the SDK's
builders with the options every Shop panel shares; the PromQL helpers (`rate`, `hq`, `share`, ...) write the
repeated query shapes. Every panel names a provisioned datasource by uid (prometheus, loki); every PromQL query
uses only the metric names the services export (the contract is in tests/infra/test_dashboards.py).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from grafana_foundation_sdk.builders import common as gc
from grafana_foundation_sdk.builders import dashboard as gd
from grafana_foundation_sdk.builders import logs as glogs
from grafana_foundation_sdk.builders import loki, prometheus, timeseries
from grafana_foundation_sdk.builders import stat as gstat
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

OUT_DIR = Path(__file__).resolve().parent / "dashboards"

PROMETHEUS = dm.DataSourceRef(type_val="prometheus", uid="prometheus")
LOKI = dm.DataSourceRef(type_val="loki", uid="loki")

HTTP_JOBS = "gateway|users|products|orders|carts"
SHOP_JOBS = f'job=~"{HTTP_JOBS}|products-grpc|users-relay|orders-relay|carts-consumer|products-consumer|orders-expirer"'
RI = "$__rate_interval"
REQUESTS = "django_http_requests_total_by_view_transport_method_total"
RESPONSES = "django_http_responses_total_by_status_view_method_total"
LATENCY = "django_http_requests_latency_seconds_by_view_method_bucket"
UPSTREAM = "shop_gateway_upstream_requests_total"
GRPC_SERVER = "shop_grpc_server_handled_total"
# Probes and scrapes are not traffic: leave them out of rates and latencies.
NOT_PLATFORM = 'view!~"health-live|health-ready|prometheus-django-metrics"'
SERVICE = 'service=~"$service"'
S5XX = 'status=~"5.."'
NOT_OK = 'outcome!="ok"'
GRPC_NOT_OK = 'grpc_code!="OK"'

Panel = timeseries.Panel | gstat.Panel | glogs.Panel
Steps = list[tuple[str, float | None]]


# --- PromQL: the shapes the panels repeat ----------------------------------------------------------------


def series(metric: str, matchers: str = "") -> str:
    return f"{metric}{{{matchers}}}" if matchers else metric


def agg(op: str, expr: str, by: str = "") -> str:
    """`op by (by) (expr)`, or `op(expr)` over everything."""
    return f"{op} by ({by}) ({expr})" if by else f"{op}({expr})"


def rate(metric: str, matchers: str = "", by: str = "", *, over: str = RI, fn: str = "rate") -> str:
    """The per-second rate (or `fn`: increase) of a counter, summed by the given labels."""
    return agg("sum", f"{fn}({series(metric, matchers)}[{over}])", by)


def increase(metric: str, matchers: str = "", by: str = "", *, over: str = RI) -> str:
    return rate(metric, matchers, by, over=over, fn="increase")


def hq(quantile: float, metric: str, by: str, matchers: str = "") -> str:
    """A quantile of a histogram's buckets, by the given labels."""
    return f"histogram_quantile({quantile}, {rate(metric, matchers, f'{by}, le')})"


def share(part: str, other: str) -> str:
    """part / (part + other): hits of all lookups, failures of all attempts."""
    return f"{part} / ({part} + {other})"


# --- panels: the SDK's builders with the options every Shop panel shares ------------------------------------


def q(expr: str, legend: str = "__auto", *, exemplar: bool = False) -> prometheus.Dataquery:
    """A range query; `exemplar` draws the histogram's trace ids over a latency (docs/observability.md)."""
    query = prometheus.Dataquery().datasource(PROMETHEUS).expr(expr).legend_format(legend).range()
    return query.exemplar(True) if exemplar else query


def thresholds(steps: Steps) -> gd.ThresholdsConfig:
    """Grafana's absolute thresholds: (colour, from value), the first from minus infinity (None)."""
    return (
        gd.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(value=value, color=color) for color, value in steps])
    )


def ts(
    title: str,
    unit: str,
    *queries: prometheus.Dataquery,
    desc: str = "",
    w: int = 8,
    h: int = 8,
    lines: Steps | None = None,
) -> timeseries.Panel:
    """A time series of Prometheus queries; `lines` draws thresholds (alert levels) as lines."""
    panel = (
        timeseries.Panel()
        .title(title)
        .description(desc)
        .datasource(PROMETHEUS)
        .targets([query.ref_id(chr(ord("A") + i)) for i, query in enumerate(queries)])
        .unit(unit)
        .span(w)
        .height(h)
        .line_width(1)
        .fill_opacity(10)
        .show_points(cm.VisibilityMode.NEVER)
        .legend(
            gc.VizLegendOptions()
            .show_legend(True)
            .display_mode(cm.LegendDisplayMode.TABLE)
            .placement(cm.LegendPlacement.BOTTOM)
            .calcs(["mean", "max", "lastNotNull"])
        )
        .tooltip(gc.VizTooltipOptions().mode(cm.TooltipDisplayMode.MULTI).sort(cm.SortOrder.DESCENDING))
        .overrides([])
    )
    if lines:
        panel.thresholds(thresholds(lines)).thresholds_style(
            gc.GraphThresholdsStyleConfig().mode(cm.GraphThresholdsStyleMode.LINE)
        )
    return panel


def stat(
    title: str,
    unit: str,
    expr: str,
    legend: str = "__auto",
    *,
    desc: str = "",
    w: int,
    h: int,
    colors: Steps | None = None,
) -> gstat.Panel:
    """The last value of one instant query; `colors` colours the value by thresholds."""
    query = prometheus.Dataquery().datasource(PROMETHEUS).expr(expr).legend_format(legend).instant().ref_id("A")
    panel = (
        gstat.Panel()
        .title(title)
        .description(desc)
        .datasource(PROMETHEUS)
        .with_target(query)
        .unit(unit)
        .decimals(2 if unit == "percentunit" else 0)
        .span(w)
        .height(h)
        .reduce_options(gc.ReduceDataOptions().calcs(["lastNotNull"]).fields("").values(False))
        .color_mode(cm.BigValueColorMode.VALUE)
        .graph_mode(cm.BigValueGraphMode.AREA)
        .text_mode(cm.BigValueTextMode.AUTO)
        .overrides([])
    )
    if colors:
        panel.thresholds(thresholds(colors)).color_scheme(gd.FieldColor().mode(dm.FieldColorModeId.THRESHOLDS))
    return panel


def logs(title: str, expr: str, desc: str, *, h: int) -> glogs.Panel:
    """The newest Loki lines of a LogQL selector, full width."""
    return (
        glogs.Panel()
        .title(title)
        .description(desc)
        .datasource(LOKI)
        .with_target(loki.Dataquery().datasource(LOKI).expr(expr).query_type("range").ref_id("A"))
        .span(24)
        .height(h)
        .show_time(True)
        .wrap_log_message(True)
        .prettify_log_message(False)
        .enable_log_details(True)
        .sort_order(cm.LogsSortOrder.DESCENDING)
        .dedup_strategy(cm.LogsDedupStrategy.NONE)
    )


def row(title: str) -> gd.Row:
    return gd.Row(title).collapsed(False)


def service_variable(metric: str) -> gd.QueryVariable:
    """$service: every service that exports `metric`, all selected at first."""
    return (
        gd.QueryVariable("service")
        .label("Service")
        .datasource(PROMETHEUS)
        .query({"query": f"label_values({metric}, service)", "refId": "service"})
        .include_all(True)
        .multi(True)
        .all_value(".+")
        .current(dm.VariableOption(selected=True, text=["All"], value=["$__all"]))
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
    )


def board(
    uid: str,
    title: str,
    description: str,
    panels: Sequence[gd.Row | Panel],
    variables: Sequence[gd.QueryVariable] = (),
) -> gd.Dashboard:
    """A Shop dashboard: the panels laid out left to right by the SDK, numbered in order, and a menu of the
    other Shop dashboards."""
    built = (
        gd.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["shop"])
        .timezone("utc")
        .readonly()
        .tooltip(dm.DashboardCursorSync.CROSSHAIR)
        .refresh("30s")
        .version(1)
        .time("now-1h", "now")
        .link(
            gd.DashboardLink("Shop dashboards")
            .type(dm.DashboardLinkType.DASHBOARDS)
            .tags(["shop"])
            .as_dropdown(True)
            .include_vars(False)
        )
        .annotations([])
        .variables(list(variables))
    )
    for panel_id, panel in enumerate(panels, 1):
        if isinstance(panel, gd.Row):
            built.with_row(panel.id(panel_id))
        else:
            built.with_panel(panel.id(panel_id))
    return built


# --- SLOs: the same routes, thresholds and objectives as compose/prometheus/rules/shop-slo.yml ----------
# (tests/infra/test_dashboards.py checks that each selector here is the one its recording rules use).


class Slo(NamedTuple):
    name: str  # the `slo` label
    title: str
    routes: str  # a selector of the gateway's route labels
    threshold: str  # the latency bucket (`le`) a good response is in
    threshold_text: str

    def bucket(self, le: str) -> str:
        return f'{self.routes}, le="{le}"'


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
BURN_LINES: Steps = [("green", None), ("yellow", 1), ("orange", 6), ("red", 14.4)]
# Traffic-weighted share of bad events over 30 days, from the 5-minute rates the rules record.
BUDGET_SPENT = (
    "(sum_over_time(slo:sli_bad_events:rate5m[30d]) / sum_over_time(slo:sli_events:rate5m[30d]))"
    " / slo:error_budget:ratio"
)


def burn_rate(slo: Slo, sli: str, promise: str) -> timeseries.Panel:
    """One SLO's budget burn rate at every window its alerts read, with the alerts' factors as lines."""
    m = f'{{slo="{slo.name}", sli="{sli}"}}'
    return ts(
        f"{slo.title} {sli}: {promise.format(threshold=slo.threshold_text)}",
        "suffix:x",
        *[q(f"slo:sli_error:ratio_rate{window}{m} / slo:error_budget:ratio{m}", window) for window in SLO_WINDOWS],
        desc=f"{slo.title}{sli.title()}BudgetBurn pages when 1h and 5m are both above 14.4 or 6h and 30m above 6, "
        "and opens a ticket when 3d and 6h are above 1 (the lines).",
        lines=BURN_LINES,
    )


# --- the data stores, seen from the server side (postgres-exporter, redis_exporter) ---------------------
# One postgres-exporter per database (jobs <service>-db-exporter, `service` the database) and one
# redis_exporter; metric names common to Debian's exporters (0.11, 1.45) and compose's images.
PG = 'job=~"users-db-exporter|products-db-exporter|orders-db-exporter|carts-db-exporter"'
REDIS = 'job="redis-exporter"'
UP_COLORS: Steps = [("red", None), ("green", 1)]


# --- dashboards: a list of panels each, one call a panel ------------------------------------------------
# fmt: off
# (ruff would put every argument of a panel on a line of its own; here a panel reads as one row of a table)


def overview() -> gd.Dashboard:
    http = f"{SERVICE}, {NOT_PLATFORM}"
    return board("shop-overview", "Shop / Microservices Overview",
        "Rate, errors and duration of every Shop service, with process CPU and memory.", [
        row("Traffic, errors, duration (RED) per service"),
        ts("Request rate", "reqps", q(rate(REQUESTS, http, "service"), "{{service}}"),
           desc="HTTP requests per second handled by each service (health checks and scrapes excluded)."),
        ts("5xx error ratio", "percentunit",
           q(f"{rate(RESPONSES, f'{http}, {S5XX}', 'service')} / {rate(RESPONSES, http, 'service')}", "{{service}}"),
           desc="Share of responses with a 5xx status. The HighHttp5xxRatio alert fires above 5%."),
        ts("Scrape targets up", "short", q(agg("sum", series("up", SHOP_JOBS), "job"), "{{job}}"),
           desc="1 when Prometheus reached the process at its last scrape. TargetDown fires after 2 minutes at 0."),
        ts("Duration p50", "s", q(hq(0.5, LATENCY, "service", http), "p50 {{service}}", exemplar=True)),
        ts("Duration p95", "s", q(hq(0.95, LATENCY, "service", http), "p95 {{service}}", exemplar=True)),
        ts("Duration p99", "s", q(hq(0.99, LATENCY, "service", http), "p99 {{service}}", exemplar=True),
           desc="The HighHttpP99Latency alert fires above 1 s for 10 minutes."),
        row("Resources"),
        ts("CPU per process", "percentunit", q(rate("process_cpu_seconds_total", SHOP_JOBS, "job"), "{{job}}"),
           desc="CPU seconds per second (1 = one full core).", w=12),
        ts("Resident memory per process", "bytes",
           q(agg("sum", series("process_resident_memory_bytes", SHOP_JOBS), "job"), "{{job}}"), w=12),
        row("Database and cache"),
        ts("Database queries", "ops", q(rate("django_db_execute_total", SERVICE, "service"), "{{service}}")),
        # django-prometheus' database histogram carries no exemplar (docs/observability.md)
        ts("Database query duration p95", "s",
           q(hq(0.95, "django_db_query_duration_seconds_bucket", "service", SERVICE), "{{service}}")),
        ts("Cache hit ratio", "percentunit",
           q(f"{rate('django_cache_get_hits_total', SERVICE, 'service')}"
             f" / {rate('django_cache_get_total', SERVICE, 'service')}", "{{service}}"),
           desc="Hits over lookups; misses are django_cache_get_misses_total."),
    ], [service_variable(REQUESTS)])


def errors() -> gd.Dashboard:
    errors_5xx = f"{SERVICE}, {S5XX}"
    return board("shop-errors", "Shop / Error Tracking",
        "5xx responses, unhandled exceptions, failing gRPC calls and upstreams, and the error logs behind them.", [
        row("HTTP errors"),
        ts("5xx responses by service and status", "reqps",
           q(rate(RESPONSES, errors_5xx, "service, status"), "{{service}} {{status}}"), w=12),
        ts("Unhandled exceptions by type", "ops",
           q(rate("django_http_exceptions_total_by_type_total", SERVICE, "service, type"), "{{service}} {{type}}"),
           desc="Exceptions that escaped a view: each one is also an error log line with a trace id.", w=12),
        ts("Top views by 5xx rate", "reqps",
           q(f"topk(10, {rate(RESPONSES, errors_5xx, 'service, view, method')})", "{{service}} {{method}} {{view}}"),
           w=12),
        ts("4xx responses by service and status", "reqps",
           q(rate(RESPONSES, f'{SERVICE}, status=~"4.."', "service, status"), "{{service}} {{status}}"),
           desc="Client errors: validation (400), auth (401/403), not found (404), conflicts (409), rate limits (429).",
           w=12),
        row("gRPC and upstream errors"),
        ts("gRPC server errors by method and code", "ops",
           q(rate(GRPC_SERVER, GRPC_NOT_OK, "grpc_method, grpc_code"), "{{grpc_method}} {{grpc_code}}"), w=12),
        ts("Gateway upstream failures", "reqps",
           q(rate(UPSTREAM, NOT_OK, "upstream, outcome"), "{{upstream}} {{outcome}}"), w=12),
        row("Error logs (Loki)"),
        logs("Recent error logs", '{project="shop", level=~"error|critical"}',
             "JSON error lines of every Shop process. Open a line and follow TraceID to its trace in Tempo.", h=14),
    ], [service_variable(RESPONSES)])


def gateway() -> gd.Dashboard:
    gw = f'job="gateway", {NOT_PLATFORM}'
    return board("shop-gateway", "Shop / Gateway",
        "The single entry point: traffic and latency by route, upstream health, rate limiting.", [
        row("Traffic"),
        stat("Requests per second", "reqps", rate(REQUESTS, gw), w=6, h=5),
        stat("5xx ratio", "percentunit", f"{rate(RESPONSES, f'{gw}, {S5XX}')} / {rate(RESPONSES, gw)}", w=6, h=5),
        stat("Rate-limited requests (last hour)", "short", increase("shop_gateway_rate_limited_total", over="1h"),
             w=6, h=5),
        stat("Circuit-open rejections (last hour)", "short", increase(UPSTREAM, 'outcome="circuit_open"', over="1h"),
             w=6, h=5),
        ts("Requests by route", "reqps", q(rate(REQUESTS, gw, "view, method"), "{{method}} {{view}}"), w=12),
        ts("Responses by status", "reqps", q(rate(RESPONSES, gw, "status"), "{{status}}"), w=12),
        row("Latency by route"),
        ts("Route latency p50", "s", q(hq(0.5, LATENCY, "view", gw), "{{view}}", exemplar=True)),
        ts("Route latency p95", "s", q(hq(0.95, LATENCY, "view", gw), "{{view}}", exemplar=True)),
        ts("Route latency p99", "s", q(hq(0.99, LATENCY, "view", gw), "{{view}}", exemplar=True)),
        row("Upstreams (users, products, orders, carts)"),
        ts("Upstream requests by outcome", "reqps",
           q(rate(UPSTREAM, by="upstream, outcome"), "{{upstream}} {{outcome}}"),
           desc="outcome: ok, error (5xx), timeout, unavailable (connection refused), circuit_open (not even tried).",
           w=12),
        ts("Upstream error ratio", "percentunit",
           q(f"{rate(UPSTREAM, NOT_OK, 'upstream')} / {rate(UPSTREAM, by='upstream')}", "{{upstream}}"), w=12),
        ts("Upstream duration p95", "s",
           q(hq(0.95, "shop_gateway_upstream_duration_seconds_bucket", "upstream"), "{{upstream}}", exemplar=True),
           w=12),
        ts("Rate-limited requests by scope", "reqps",
           q(rate("shop_gateway_rate_limited_total", by="scope"), "{{scope}}"),
           desc="Requests answered 429 by the gateway's limits (login, register, checkout, default).", w=12),
    ])


def business() -> gd.Dashboard:
    def total(metric: str, by: str = "", over: str = "$__range") -> str:
        return increase(metric, by=by, over=over)

    def hourly(metric: str, by: str = "") -> str:
        return total(metric, by, "1h")

    orders, failures = total("shop_orders_created_total"), total("shop_checkout_failures_total")
    return board("shop-business", "Shop / Business",
        "Registrations, orders, revenue, checkout failures and cart-to-order conversion.", [
        row("In the selected time range"),
        stat("Users registered", "short", total("shop_users_registered_total"), w=4, h=5),
        stat("Orders created", "short", orders, w=4, h=5),
        stat("Orders cancelled", "short", total("shop_orders_cancelled_total"), w=4, h=5),
        stat("Revenue", "none", total("shop_order_value_total", "currency"), "{{currency}}",
             desc="Sum of order totals, per currency.", w=4, h=5),
        stat("Checkout failure rate", "percentunit", share(failures, orders), w=4, h=5),
        stat("Cart-to-order conversion", "percentunit", f"{orders} / {total('shop_cart_additions_total')}",
             desc="Orders created per item added to a cart.", w=4, h=5),
        row("Over time"),
        ts("Orders and registrations per hour", "short",
           q(hourly("shop_orders_created_total"), "orders"), q(hourly("shop_orders_cancelled_total"), "cancelled"),
           q(hourly("shop_users_registered_total"), "registrations"),
           q(hourly("shop_cart_additions_total"), "cart additions"), w=12),
        ts("Revenue per hour", "none", q(hourly("shop_order_value_total", "currency"), "{{currency}}"), w=12),
        ts("Checkout failures by reason", "ops", q(rate("shop_checkout_failures_total", by="reason"), "{{reason}}"),
           desc="insufficient_stock, product_unavailable, empty_cart, products_unavailable (gRPC down). "
                "CheckoutFailureSpike fires above 25% of attempts.", w=12),
        ts("Average order value", "none",
           q(f"{hourly('shop_order_value_total', 'currency')}"
             f" / ignoring (currency) group_left {hourly('shop_orders_created_total')}", "{{currency}}"), w=12),
    ])


def events_and_grpc() -> gd.Dashboard:
    server_seconds = "shop_grpc_server_handling_seconds_bucket"
    return board("shop-events-grpc", "Shop / Events and gRPC",
        "Kafka throughput, consumer lag, dead letters, outbox backlog and age; gRPC latency and errors.", [
        row("Kafka: publishing (outbox relays)"),
        ts("Events published by type", "ops",
           q(rate("shop_events_published_total", by="topic, event_type"), "{{event_type}}")),
        ts("Outbox backlog", "short", q(agg("sum", "shop_outbox_backlog", "service"), "{{service}}"),
           desc="Outbox rows written but not yet published to Kafka."),
        ts("Oldest unsent outbox event", "s", q(agg("max", "shop_outbox_oldest_age_seconds", "service"), "{{service}}"),
           desc="OutboxOldestEventAgeHigh fires above 5 minutes."),
        ts("Publish failures", "ops", q(rate("shop_events_publish_failed_total", by="topic"), "{{topic}}"),
           desc="Failed produce attempts; the relay retries, so events are delayed, not lost."),
        ts("Dead and held outbox rows", "short",
           q(agg("max", "shop_outbox_dead_rows", "service"), "{{service}} dead"),
           q(agg("max", "shop_outbox_held_rows", "service"), "{{service}} held"),
           desc="Rows the relay gave up on (OutboxDeadRows fires above 0; requeue them in the service's admin)"
                " and the later rows of their keys waiting behind them."),
        row("Kafka: consuming"),
        ts("Events consumed by outcome", "ops",
           q(rate("shop_events_consumed_total", by="consumer, outcome"), "{{consumer}} {{outcome}}"),
           desc="processed, duplicate (already seen: skipped), failed (retried, then dead-lettered) or rejected"
                " (source not the topic's owner: dead-lettered unhandled)."),
        ts("Consumer lag", "short", q(agg("sum", "shop_kafka_consumer_lag", "group, topic"), "{{group}} {{topic}}"),
           desc="Messages not yet consumed, summed over partitions. KafkaConsumerLagHigh fires above 1000."),
        ts("Dead-lettered events", "short",
           q(increase("shop_events_dead_lettered_total", by="consumer, topic"), "{{consumer}} {{topic}}"),
           desc="Events moved to <topic>.dlq after the retries ran out. Any is an alert (EventsDeadLettered)."),
        ts("Event handling p95 by consumer", "s",
           q(hq(0.95, "shop_event_handling_seconds_bucket", "consumer, topic"), "{{consumer}} {{topic}}",
             exemplar=True),
           desc="From parsing an event to its outcome (handler, retries, dedupe), every outcome. An exemplar opens"
                " the consumer's trace, which continues the producer's.", w=24),
        row("gRPC: products.v1.ProductService"),
        ts("Server calls by method and code", "ops",
           q(rate(GRPC_SERVER, by="grpc_method, grpc_code"), "{{grpc_method}} {{grpc_code}}"), w=12),
        ts("Server error ratio by method", "percentunit",
           q(f"{rate(GRPC_SERVER, GRPC_NOT_OK, 'grpc_method')} / {rate(GRPC_SERVER, by='grpc_method')}",
             "{{grpc_method}}"),
           desc="Business refusals (NOT_FOUND, FAILED_PRECONDITION for stock) count here too.", w=12),
        ts("Server latency by method", "s",
           *[q(hq(p, server_seconds, "grpc_method"), f"p{int(p * 100)} {{{{grpc_method}}}}", exemplar=True)
             for p in (0.5, 0.95, 0.99)], w=12),
        ts("Client latency p95 by caller and method", "s",
           q(hq(0.95, "shop_grpc_client_handling_seconds_bucket", "service, grpc_method"),
             "{{service}} {{grpc_method}}", exemplar=True), w=12),
        ts("Client calls by caller and code", "ops",
           q(rate("shop_grpc_client_handled_total", by="service, grpc_code"), "{{service}} {{grpc_code}}"),
           desc="DEADLINE_EXCEEDED and UNAVAILABLE here become 503 problems for the customer.", w=24),
    ])


def slo_dashboard() -> gd.Dashboard:
    bad_5xx = " or ".join(rate(RESPONSES, f"{slo.routes}, {S5XX}", "view, method, status") for slo in SLOS)
    by = "view, method"
    slow = " or ".join(
        f"({rate(LATENCY, slo.bucket('+Inf'), by)} - {rate(LATENCY, slo.bucket(slo.threshold), by)})" for slo in SLOS)
    return board("shop-slo", "Shop / SLOs and Error Budgets",
        "Browse, cart and checkout SLOs measured at the gateway: budget left over 30 days, burn rate per "
        "alert window, and the requests that burned it. docs/slo.md explains the targets and alerts.", [
        row("Error budget over the last 30 days"),
        stat("Objective", "percentunit", "slo:objective:ratio", "{{slo}} {{sli}}",
             desc="The share of good events each SLO promises over 30 days (docs/slo.md says why).", w=6, h=6),
        stat("Error budget left", "percentunit", f"1 - {BUDGET_SPENT}", "{{slo}} {{sli}}",
             desc="1 - (bad events / events over 30 days) / (1 - objective). Below 0 the SLO is missed: "
                  "spend what is left on reliability, not on risky changes.",
             w=9, h=6, colors=[("red", None), ("orange", 0), ("green", 0.25)]),
        stat("Error budget left, in minutes of full outage", "m",
             f"(1 - {BUDGET_SPENT}) * slo:error_budget:ratio * {DAYS_30_IN_MINUTES}", "{{slo}} {{sli}}",
             desc="How long every request could fail (or be slow) before the SLO is missed: "
                  "43.2 minutes per 30 days for 99.9%, 7.2 hours for 99%.",
             w=9, h=6, colors=[("red", None), ("orange", 0), ("green", 1)]),
        row("Burn rate per window (1 = the whole budget in exactly 30 days)"),
        *[burn_rate(slo, sli, promise) for sli, promise in SLIS.items() for slo in SLOS],
        row("The events that burned it"),
        ts("5xx on SLO routes, by route and status", "reqps", q(bad_5xx, "{{method}} {{view}} {{status}}"),
           desc="Bad events of the availability SLOs. GET api:checkout is the order list (not in an SLO); "
                "503 and 504 are a downstream the gateway could not reach in time (see Shop / Gateway).", w=12),
        ts("Responses slower than the SLO threshold, by route", "reqps", q(slow, "{{method}} {{view}}"),
           desc="Bad events of the latency SLOs: browse and cart over 0.5 s, checkout over 1 s.", w=12),
        ts("Bad events per SLO", "reqps", q("slo:sli_bad_events:rate5m", "{{slo}} {{sli}}"),
           desc="Per second over 5 minutes, as the recording rules count them.", w=12),
        ts("Events per SLO", "reqps", q("slo:sli_events:rate5m", "{{slo}} {{sli}}"),
           desc="Requests the SLOs judge, per second over 5 minutes: at low traffic a few bad events move the "
                "ratio a lot.", w=12),
        logs("Gateway error lines", '{project="shop", service="gateway", level=~"error|critical"}',
             "5xx access lines and errors of the gateway; a line's trace_id opens the request's trace in Tempo.", h=12),
    ])


def datastores_dashboard() -> gd.Dashboard:
    def pg(metric: str) -> str:
        return rate(metric, PG, "service")

    def redis(metric: str) -> str:
        return rate(metric, REDIS)

    pg_connections = agg("sum", series("pg_stat_database_numbackends", PG), "service")
    pg_max = agg("max", series("pg_settings_max_connections", PG), "service")
    redis_used = series("redis_memory_used_bytes", REDIS)
    redis_max = f"{series('redis_memory_max_bytes', REDIS)} > 0"
    redis_hits, redis_misses = redis("redis_keyspace_hits_total"), redis("redis_keyspace_misses_total")
    return board("shop-datastores", "Shop / Data Stores",
        "PostgreSQL (one server per service) and Redis seen from the server side, through their exporters: "
        "connections, transactions, locks, deadlocks, cache hit ratios, memory and evictions. pgAdmin and "
        "RedisInsight (`--profile tools`) look inside.", [
        row("PostgreSQL (one server per service)"),
        stat("PostgreSQL up", "short", agg("min", series("pg_up", PG), "service"), "{{service}}",
             desc="1: the exporter reaches its database (PostgresDown fires after 1 minute at 0).",
             w=6, h=6, colors=UP_COLORS),
        ts("PostgreSQL connections vs max_connections", "short",
           q(pg_connections, "{{service}} connections"), q(pg_max, "{{service}} max_connections"),
           desc="Client connections over every database of the server (pg_stat_database.numbackends), "
                "against the server's max_connections.", w=9, h=6),
        ts("PostgreSQL connections used", "percentunit", q(f"{pg_connections} / {pg_max}", "{{service}}"),
           desc="Share of max_connections in use; PostgresConnectionsNearLimit fires above 80% for 5 minutes.",
           w=9, h=6, lines=[("green", None), ("orange", 0.8)]),
        ts("PostgreSQL transactions", "ops",
           q(pg("pg_stat_database_xact_commit"), "{{service}} commit"),
           q(pg("pg_stat_database_xact_rollback"), "{{service}} rollback"),
           desc="Transactions committed and rolled back per second, every database of the server.", w=12),
        ts("PostgreSQL buffer cache hit ratio", "percentunit",
           q(share(pg("pg_stat_database_blks_hit"), pg("pg_stat_database_blks_read")), "{{service}}"),
           desc="blks_hit / (blks_hit + blks_read): blocks found in shared buffers rather than read from disk "
                "(or the OS cache). Below ~99% on a small working set: shared_buffers too small.", w=12),
        ts("PostgreSQL locks by mode", "short",
           q(f"{agg('sum', series('pg_locks_count', PG), 'service, mode')} > 0", "{{service}} {{mode}}"),
           desc="Locks held or awaited (pg_locks), by mode; modes at 0 are left out. Many exclusive locks that "
                "stay are transactions waiting on each other.", w=12),
        ts("PostgreSQL deadlocks", "short", q(increase("pg_stat_database_deadlocks", PG, "service"), "{{service}}"),
           desc="Deadlocks detected (one transaction of each was aborted). Stock is locked in a fixed order, so "
                "any deadlock is a bug to look for.", w=12),
        row("Redis (caches and rate-limit counters)"),
        stat("Redis up", "short", agg("min", series("redis_up", REDIS)), "redis",
             desc="1: the exporter reaches Redis (RedisDown fires after 1 minute at 0).", w=4, h=6, colors=UP_COLORS),
        stat("Redis connected clients", "short", agg("sum", series("redis_connected_clients", REDIS)), "clients",
             desc="Client connections, the exporter's own included.", w=4, h=6),
        ts("Redis memory used vs maxmemory", "bytes", q(redis_used, "used"), q(redis_max, "maxmemory"),
           desc="maxmemory is drawn only where it is set (0 is unlimited; compose sets 128 MB, allkeys-lru).", h=6),
        ts("Redis memory used (share of maxmemory)", "percentunit", q(f"{redis_used} / ({redis_max})", "used"),
           desc="RedisMemoryNearLimit fires above 90% for 5 minutes.", h=6, lines=[("green", None), ("orange", 0.9)]),
        ts("Redis keyspace hits and misses", "ops", q(redis_hits, "hits"), q(redis_misses, "misses"),
           desc="Key lookups per second that found their key, and that did not (every database)."),
        ts("Redis hit ratio", "percentunit", q(share(redis_hits, redis_misses), "hit ratio"),
           desc="Server side, every cache and the rate-limit counters together; the services' own cache panels "
                "(Microservices Overview) split it per service."),
        ts("Redis evictions and expirations", "ops",
           q(redis("redis_evicted_keys_total"), "evicted"), q(redis("redis_expired_keys_total"), "expired"),
           desc="Keys evicted at maxmemory (allkeys-lru: rate-limit counters too), and keys whose timeout ended."),
    ])


# fmt: on
DASHBOARDS = (overview, errors, gateway, business, events_and_grpc, slo_dashboard, datastores_dashboard)


def render_all() -> dict[str, str]:
    """File name -> JSON text, exactly as committed."""
    rendered = {}
    for build in DASHBOARDS:
        model = build().build()
        rendered[f"{model.uid}.json"] = json.dumps(model, cls=JSONEncoder, indent=2, sort_keys=True) + "\n"
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
