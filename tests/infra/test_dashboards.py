"""Grafana: provisioned datasources, dashboards that parse, use them by uid and query only real metrics."""

from __future__ import annotations

import importlib.util
import json
import re

import yaml

from tests.infra.dashboards import (
    DASHBOARD_DIR,
    all_queries,
    dashboard_queries,
    iter_panels,
    load_dashboards,
    metric_names,
)
from tests.infra.support import GRAFANA_DIR, load_rules

# The metric names the services export: the contract dashboards and alerts are built on.
EXPORTED_METRICS = {
    # django-prometheus, every HTTP service
    "django_http_requests_total_by_view_transport_method_total",
    "django_http_responses_total_by_status_view_method_total",
    "django_http_requests_latency_seconds_by_view_method_bucket",
    "django_http_exceptions_total_by_type_total",
    "django_db_execute_total",
    "django_db_query_duration_seconds_bucket",
    "django_cache_get_total",
    "django_cache_get_hits_total",
    "django_cache_get_misses_total",
    # process
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    # gRPC
    "shop_grpc_server_handled_total",
    "shop_grpc_server_handling_seconds_bucket",
    "shop_grpc_client_handled_total",
    "shop_grpc_client_handling_seconds_bucket",
    # events
    "shop_events_published_total",
    "shop_events_publish_failed_total",
    "shop_events_consumed_total",
    "shop_events_dead_lettered_total",
    "shop_kafka_consumer_lag",
    "shop_outbox_backlog",
    "shop_outbox_oldest_age_seconds",
    "shop_outbox_dead_rows",
    "shop_outbox_held_rows",
    "shop_outbox_dead_total",
    "shop_events_replayed_total",
    "shop_event_handling_seconds_bucket",
    # business
    "shop_users_registered_total",
    "shop_orders_created_total",
    "shop_orders_cancelled_total",
    "shop_order_value_total",
    "shop_checkout_failures_total",
    "shop_cart_additions_total",
    "shop_stock_confirmations_total",
    # products' catalog cache (product_svc/catalog/metrics.py)
    "shop_catalog_cache_requests_total",
    # gateway
    "shop_gateway_upstream_requests_total",
    "shop_gateway_upstream_duration_seconds_bucket",
    "shop_gateway_rate_limited_total",
    # Prometheus itself
    "up",
}
# What the data store exporters export (names common to Debian's 0.11 / 1.45 and compose's images; the live
# dashboard test runs Debian's against real PostgreSQL and Redis).
DATASTORE_METRICS = {
    "pg_up",
    "pg_settings_max_connections",
    "pg_stat_database_numbackends",
    "pg_stat_database_xact_commit",
    "pg_stat_database_xact_rollback",
    "pg_stat_database_blks_hit",
    "pg_stat_database_blks_read",
    "pg_stat_database_deadlocks",
    "pg_locks_count",
    "redis_up",
    "redis_connected_clients",
    "redis_memory_used_bytes",
    "redis_memory_max_bytes",
    "redis_keyspace_hits_total",
    "redis_keyspace_misses_total",
    "redis_evicted_keys_total",
    "redis_expired_keys_total",
}
EXPORTED_METRICS |= DATASTORE_METRICS
EXPECTED_DASHBOARDS = {
    "shop-overview": "Shop / Microservices Overview",
    "shop-errors": "Shop / Error Tracking",
    "shop-gateway": "Shop / Gateway",
    "shop-business": "Shop / Business",
    "shop-events-grpc": "Shop / Events and gRPC",
    "shop-slo": "Shop / SLOs and Error Budgets",
    "shop-datastores": "Shop / Data Stores",
}
# Series the recording rules in compose/prometheus/rules/ write: dashboards and alerts may use them too.
RECORDED_METRICS = {rule["record"] for rule in load_rules() if "record" in rule}


def provisioned_datasources() -> dict[str, dict]:
    found = {}
    for path in (GRAFANA_DIR / "provisioning" / "datasources").glob("*.yml"):
        for source in yaml.safe_load(path.read_text())["datasources"]:
            found[source["uid"]] = source
    return found


def test_metric_name_extraction_finds_metrics_and_ignores_functions_labels_and_variables() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (service, le) (rate(foo_bucket{view!~"a|b", le="+Inf"}[$__rate_interval])))'
        " / ignoring (currency) group_left sum(increase(bar_total[1h])) or vector(0) and on (job) up == 0"
    )

    assert metric_names(expr) == {"foo_bucket", "bar_total", "up"}


def test_the_seven_dashboards_exist_and_parse() -> None:
    boards = load_dashboards()

    assert {b["uid"]: b["title"] for b in boards.values()} == EXPECTED_DASHBOARDS
    for name, board in boards.items():
        assert name == f"{board['uid']}.json"
        assert board["panels"], name


def test_committed_dashboards_equal_the_generator_output() -> None:
    spec = importlib.util.spec_from_file_location("grafana_generate_dashboards", GRAFANA_DIR / "generate_dashboards.py")
    assert spec
    assert spec.loader
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)

    rendered = generator.render_all()

    assert set(rendered) == {p.name for p in DASHBOARD_DIR.glob("*.json")}
    for name, text in rendered.items():
        assert (DASHBOARD_DIR / name).read_text() == text, f"{name} is stale: python grafana/generate_dashboards.py"


def test_datasources_have_fixed_uids_and_link_logs_traces_and_metrics() -> None:
    sources = provisioned_datasources()

    assert {"prometheus", "loki", "tempo"} <= set(sources)
    loki, tempo = sources["loki"], sources["tempo"]
    derived = loki["jsonData"]["derivedFields"][0]
    assert derived["datasourceUid"] == "tempo"
    assert "trace_id" in derived["matcherRegex"]
    assert loki["basicAuth"] is True
    assert loki["basicAuthUser"] == "$LOKI_BASIC_AUTH_USER"
    assert loki["secureJsonData"]["basicAuthPassword"] == "$LOKI_BASIC_AUTH_PASSWORD"
    assert loki["url"] == "http://loki-gateway:3100"
    assert tempo["jsonData"]["tracesToLogsV2"]["datasourceUid"] == "loki"
    assert "trace_id" in tempo["jsonData"]["tracesToLogsV2"]["query"]
    assert tempo["jsonData"]["tracesToMetrics"]["datasourceUid"] == "prometheus"


def test_prometheus_exemplars_open_their_trace_in_tempo() -> None:
    # given: latency histograms carry exemplars labelled trace_id (shopkit.metrics.EXEMPLAR_TRACE_ID)
    sources = provisioned_datasources()

    # when
    destinations = sources["prometheus"]["jsonData"]["exemplarTraceIdDestinations"]

    # then: Grafana links that label to the provisioned Tempo datasource
    assert destinations == [{"name": "trace_id", "datasourceUid": "tempo"}]
    assert sources["tempo"]["type"] == "tempo"


# Latency histograms that carry no exemplar (docs/observability.md, "What carries none"): django-prometheus'
# database backend observes a plain histogram, so a panel over it would draw nothing.
NO_EXEMPLARS = {"django_db_query_duration_seconds_bucket"}


def _latency_targets() -> dict[tuple[str, str], list[dict]]:
    """The Prometheus targets of every latency panel (histogram_quantile over the buckets of a histogram in
    seconds: *_seconds_bucket, *_seconds_by_view_method_bucket) outside the SLO dashboard, by (dashboard uid,
    panel title)."""
    found: dict[tuple[str, str], list[dict]] = {}
    for board in load_dashboards().values():
        if board["uid"] == "shop-slo":
            continue
        for panel in iter_panels(board["panels"]):
            for target in panel.get("targets", []):
                expr = target.get("expr", "")
                buckets = {m for m in metric_names(expr) if "_seconds" in m and m.endswith("_bucket")} - NO_EXEMPLARS
                if "histogram_quantile" in expr and buckets:
                    found.setdefault((board["uid"], panel["title"]), []).append(target)
    return found


def test_every_latency_panel_but_the_slo_ones_draws_exemplars() -> None:
    # given: every latency histogram on a panel carries the trace id as exemplar (shopkit.metrics.TracedHistogram)
    # when
    latency = _latency_targets()

    # then: each of their queries asks Grafana for the exemplars (diamonds that open the trace in Tempo)
    assert {
        ("shop-gateway", "Route latency p50"),
        ("shop-gateway", "Route latency p95"),
        ("shop-gateway", "Route latency p99"),
        ("shop-gateway", "Upstream duration p95"),
        ("shop-events-grpc", "Server latency by method"),
        ("shop-events-grpc", "Client latency p95 by caller and method"),
        ("shop-events-grpc", "Event handling p95 by consumer"),
        ("shop-overview", "Duration p95"),
        ("shop-overview", "Duration p99"),
    } <= set(latency)
    without = [key for key, targets in latency.items() for t in targets if t.get("exemplar") is not True]
    assert without == []
    assert all(t["datasource"]["uid"] == "prometheus" for targets in latency.values() for t in targets)


def test_the_events_dashboard_shows_event_handling_latency_by_consumer_with_exemplars() -> None:
    # given
    board = load_dashboards()["shop-events-grpc.json"]

    # when
    panel = next(p for p in iter_panels(board["panels"]) if p["title"] == "Event handling p95 by consumer")

    # then
    assert [(t["expr"], t["exemplar"]) for t in panel["targets"]] == [
        (
            "histogram_quantile(0.95, sum by (consumer, topic, le) "
            "(rate(shop_event_handling_seconds_bucket[$__rate_interval])))",
            True,
        )
    ]
    assert panel["fieldConfig"]["defaults"]["unit"] == "s"


def test_every_panel_and_target_names_a_provisioned_datasource() -> None:
    uids = set(provisioned_datasources())
    for board in load_dashboards().values():
        for panel in iter_panels(board["panels"]):
            if panel["type"] == "row":
                continue
            assert panel["datasource"]["uid"] in uids, (board["uid"], panel["title"])
            for target in panel["targets"]:
                assert target["datasource"]["uid"] in uids, (board["uid"], panel["title"])
                assert target["datasource"]["uid"] == panel["datasource"]["uid"]
        for variable in board["templating"]["list"]:
            assert variable["datasource"]["uid"] in uids


def test_panel_ids_are_unique_within_each_dashboard() -> None:
    for board in load_dashboards().values():
        ids = [panel["id"] for panel in iter_panels(board["panels"])]
        assert len(ids) == len(set(ids)), board["uid"]


def test_panels_fit_the_24_column_grid_without_overlapping() -> None:
    # given: the SDK lays panels out left to right and wraps only once a row is full, so a panel too wide for
    # what is left of its row would stick out past column 24
    for board in load_dashboards().values():
        # when
        cells: dict[tuple[int, int], str] = {}
        for panel in iter_panels(board["panels"]):
            pos = panel["gridPos"]
            # then
            assert pos["x"] >= 0, (board["uid"], panel["title"])
            assert pos["x"] + pos["w"] <= 24, (board["uid"], panel["title"], pos)
            for x in range(pos["x"], pos["x"] + pos["w"]):
                for y in range(pos["y"], pos["y"] + pos["h"]):
                    assert (x, y) not in cells, (board["uid"], panel["title"], "overlaps", cells[(x, y)])
                    cells[(x, y)] = panel["title"]


def test_dashboard_queries_use_only_exported_metric_names() -> None:
    queries = dashboard_queries()
    assert len(queries) > 40

    for query in queries:
        unknown = metric_names(query.expr) - EXPORTED_METRICS - RECORDED_METRICS
        assert not unknown, f"{query.dashboard} / {query.panel}: unknown metric {sorted(unknown)}"
        assert metric_names(query.expr), f"{query.dashboard} / {query.panel}: no metric in {query.expr}"


def test_template_variables_use_only_exported_metric_names() -> None:
    for board in load_dashboards().values():
        for variable in board["templating"]["list"]:
            inner = variable["query"]["query"].removeprefix("label_values(").rsplit(",", 1)[0]
            assert metric_names(inner) <= EXPORTED_METRICS, board["uid"]


def test_alert_expressions_use_only_exported_metric_names() -> None:
    for rule in load_rules():
        unknown = metric_names(rule["expr"]) - EXPORTED_METRICS - RECORDED_METRICS
        assert not unknown, f"{rule.get('alert') or rule.get('record')}: unknown metric {sorted(unknown)}"


def test_trace_to_metrics_queries_use_only_exported_metric_names() -> None:
    tempo = provisioned_datasources()["tempo"]
    for query in tempo["jsonData"]["tracesToMetrics"]["queries"]:
        assert metric_names(query["query"]) <= EXPORTED_METRICS, query["name"]


def test_the_error_dashboard_shows_error_logs_from_loki() -> None:
    errors = next(b for b in load_dashboards().values() if b["uid"] == "shop-errors")
    log_panels = [p for p in iter_panels(errors["panels"]) if p["type"] == "logs"]

    assert log_panels
    assert all(p["datasource"]["uid"] == "loki" for p in log_panels)
    assert any('level=~"error|critical"' in t["expr"] for p in log_panels for t in p["targets"])


def test_loki_queries_select_by_labels_alloy_sets() -> None:
    for query in all_queries():
        if query.datasource_uid == "loki":
            assert query.expr.startswith('{project="shop"'), query.expr


def test_dashboard_json_is_stable_formatting() -> None:
    for path in DASHBOARD_DIR.glob("*.json"):
        text = path.read_text()
        assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n", path.name


def test_the_slo_dashboard_shows_budget_burn_rate_and_bad_events_of_every_slo_with_the_rules_routes() -> None:
    board = next(b for b in load_dashboards().values() if b["uid"] == "shop-slo")
    queries = [q.expr for q in dashboard_queries() if q.dashboard == "shop-slo"]
    burn_panels = [
        p
        for p in iter_panels(board["panels"])
        if p["type"] == "timeseries" and p["fieldConfig"]["defaults"].get("thresholds")
    ]
    events = {
        (rule["labels"]["slo"], rule["labels"]["sli"]): rule["expr"]
        for rule in load_rules()
        if rule.get("record") == "slo:sli_events:rate5m"
    }
    bad = {
        (rule["labels"]["slo"], rule["labels"]["sli"]): rule["expr"]
        for rule in load_rules()
        if rule.get("record") == "slo:sli_bad_events:rate5m"
    }

    # every SLO (slo, sli) of the rules: its burn rate at every window the rules record, with the alert factors
    assert len(events) == 6
    for slo, sli in events:
        selector = f'{{slo="{slo}", sli="{sli}"}}'
        for window in ("5m", "30m", "1h", "6h", "3d"):
            assert f"slo:sli_error:ratio_rate{window}{selector} / slo:error_budget:ratio{selector}" in queries
    assert len(burn_panels) == 6
    for panel in burn_panels:
        assert [s["value"] for s in panel["fieldConfig"]["defaults"]["thresholds"]["steps"]] == [None, 1, 6, 14.4]
    # budget left over 30 days, for all SLOs at once
    assert any("slo:sli_bad_events:rate5m[30d]" in q and q.startswith("1 - ") for q in queries)
    # the bad events by route use the very route selectors and latency thresholds of the recording rules
    for (slo, sli), expr in events.items():
        routes = re.search(r"\{(job=\"gateway\"[^}]*?)(, le=\"\+Inf\")?\}", expr)
        assert routes, expr
        if sli == "availability":
            assert any(routes.group(1) + ', status=~"5.."}' in q for q in queries), routes.group(1)
        else:
            threshold = re.search(r'le="([0-9.]+)"', bad[(slo, sli)])
            assert threshold, bad[(slo, sli)]
            for le in ("+Inf", threshold.group(1)):
                assert any(f'{routes.group(1)}, le="{le}"}}' in q for q in queries), (routes.group(1), le)


def test_the_data_stores_dashboard_shows_what_the_server_side_tells_of_postgres_and_redis() -> None:
    board = load_dashboards()["shop-datastores.json"]
    rows = [panel["title"] for panel in board["panels"] if panel["type"] == "row"]
    exprs = {
        panel["title"]: " ".join(target["expr"] for target in panel["targets"])
        for panel in iter_panels(board["panels"])
        if panel["type"] != "row"
    }

    assert rows == ["PostgreSQL (one server per service)", "Redis (caches and rate-limit counters)"]
    wanted = {
        "PostgreSQL connections vs max_connections": {"pg_stat_database_numbackends", "pg_settings_max_connections"},
        "PostgreSQL transactions": {"pg_stat_database_xact_commit", "pg_stat_database_xact_rollback"},
        "PostgreSQL locks by mode": {"pg_locks_count"},
        "PostgreSQL deadlocks": {"pg_stat_database_deadlocks"},
        "PostgreSQL buffer cache hit ratio": {"pg_stat_database_blks_hit", "pg_stat_database_blks_read"},
        "Redis memory used vs maxmemory": {"redis_memory_used_bytes", "redis_memory_max_bytes"},
        "Redis keyspace hits and misses": {"redis_keyspace_hits_total", "redis_keyspace_misses_total"},
        "Redis hit ratio": {"redis_keyspace_hits_total", "redis_keyspace_misses_total"},
        "Redis evictions and expirations": {"redis_evicted_keys_total"},
        "Redis connected clients": {"redis_connected_clients"},
    }
    for title, metrics in wanted.items():
        assert metrics <= metric_names(exprs[title]), title
    # every query selects the compose jobs of the exporters, never another job's series of the same name
    jobs = "users-db-exporter|products-db-exporter|orders-db-exporter|carts-db-exporter"
    for title, expr in exprs.items():
        selector = f'job=~"{jobs}"' if title.startswith("PostgreSQL") else 'job="redis-exporter"'
        assert expr.count("{") == expr.count(selector) >= 1, (title, expr)
