"""Reads the committed Grafana dashboards: panels, their datasources and their queries.

`dashboard_queries()` is the list a live test can run against a real Prometheus; `metric_names()`
pulls the metric names out of a PromQL expression (for the metric-name contract).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = ROOT / "grafana" / "dashboards"

# Grafana's built-in variables, replaced by values a live query can use.
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "1m",
    "$__range": "1h",
    "$service": ".+",
}


@dataclass(frozen=True)
class Query:
    dashboard: str
    panel: str
    datasource_uid: str
    expr: str

    def runnable(self) -> str:
        """The expression with Grafana variables substituted, ready for Prometheus' query API."""
        expr = self.expr
        for name, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(name, value)
        return expr


def load_dashboards() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text()) for path in sorted(DASHBOARD_DIR.glob("*.json"))}


def iter_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from iter_panels(panel.get("panels", []))


def all_queries() -> list[Query]:
    queries = []
    for board in load_dashboards().values():
        for panel in iter_panels(board["panels"]):
            for target in panel.get("targets", []):
                uid = (target.get("datasource") or panel.get("datasource") or {}).get("uid", "")
                queries.append(Query(board["uid"], panel["title"], uid, target["expr"]))
    return queries


def dashboard_queries() -> list[Query]:
    """Every PromQL query of every dashboard panel."""
    return [q for q in all_queries() if q.datasource_uid == "prometheus"]


_PROMQL_WORDS = {
    # aggregations and keywords that can stand without a directly following "(" (`sum by (x) (...)`)
    "sum", "min", "max", "avg", "count", "group", "stddev", "stdvar", "topk", "bottomk", "quantile",
    "count_values", "limitk", "limit_ratio",
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset",
    "inf", "nan",
}  # fmt: skip
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"(?<![\w$.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?")


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression (labels, functions, keywords and variables left out)."""
    text = _STRINGS.sub('""', expr)
    text = _MATCHERS.sub("", text)
    text = _RANGES.sub("", text)
    text = _GROUPING.sub(r"\1", text)
    text = re.sub(r"\$\{?\w+\}?", "", text)
    names = set()
    for match in _IDENT.finditer(text):
        name, call = match.group(1), match.group(2)
        if call or name.lower() in _PROMQL_WORDS:
            continue
        names.add(name)
    return names
