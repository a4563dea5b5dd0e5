"""Prometheus configuration, alert rules and their unit tests, and Alertmanager routing (promtool, amtool)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.infra.support import (
    ALERTMANAGER_FILE,
    PROMETHEUS_DIR,
    ROOT,
    RUNBOOK_DIR,
    load_compose,
    load_rules,
    require_tool,
)

SHOP_JOBS = {
    "gateway": "gateway",
    "users": "users",
    "products": "products",
    "orders": "orders",
    "carts": "carts",
    "products-grpc": "products",
    "users-relay": "users",
    "orders-relay": "orders",
    "carts-consumer": "carts",
    "products-consumer": "products",
    "orders-expirer": "orders",
}


def run(argv: list[str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_promtool_accepts_the_prometheus_config_and_resolves_its_rule_files() -> None:
    promtool = require_tool("promtool")

    rule_files = len(list((PROMETHEUS_DIR / "rules").glob("*.yml")))

    result = run([promtool, "check", "config", str(PROMETHEUS_DIR / "prometheus.yml")])

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {rule_files} rule files found" in result.stdout


def test_promtool_accepts_every_rule_file() -> None:
    promtool = require_tool("promtool")
    files = sorted(str(p) for p in (PROMETHEUS_DIR / "rules").glob("*.yml"))
    assert files

    result = run([promtool, "check", "rules", *files])

    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_rule_unit_tests_pass() -> None:
    promtool = require_tool("promtool")
    files = sorted(str(p) for p in (PROMETHEUS_DIR / "tests").glob("*.yml"))
    assert files

    result = run([promtool, "test", "rules", *files])

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_severity_runbook_and_firing_and_silent_unit_tests() -> None:
    tests = []
    for path in (PROMETHEUS_DIR / "tests").glob("*.yml"):
        tests.extend(yaml.safe_load(path.read_text())["tests"])
    checks = [check for test in tests for check in test.get("alert_rule_test", [])]

    for rule in load_rules():
        if "alert" not in rule:
            continue
        name = rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        assert rule["annotations"]["runbook_url"] == f"docs/runbooks/{name}.md", name
        assert (RUNBOOK_DIR / f"{name}.md").is_file(), f"missing runbook for {name}"
        assert rule["annotations"].get("summary"), name
        mine = [c for c in checks if c["alertname"] == name]
        assert any(c.get("exp_alerts") for c in mine), f"no test where {name} fires"
        assert any(not c.get("exp_alerts") for c in mine), f"no test where {name} stays silent"


def runbook_problems(rules_dir: Path, root: Path) -> list[str]:
    """What is wrong with the runbook links of the alerts in `rules_dir/*.yml`: every alert needs
    `runbook_url: docs/runbooks/<AlertName>.md`, a file at that path under `root` whose title is the name."""
    problems = []
    for path in sorted(rules_dir.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" not in rule:
                    continue
                name, url = rule["alert"], rule.get("annotations", {}).get("runbook_url")
                where = f"{path.name}: {name}"
                if not url:
                    problems.append(f"{where}: no runbook_url")
                elif url != f"docs/runbooks/{name}.md":
                    problems.append(f"{where}: runbook_url {url} is not docs/runbooks/{name}.md")
                elif not (root / url).is_file():
                    problems.append(f"{where}: {url} does not exist")
                elif (root / url).read_text().splitlines()[:1] != [f"# {name}"]:
                    problems.append(f"{where}: {url} does not open with '# {name}'")
    return problems


def test_every_alert_of_every_rule_file_links_a_runbook_that_exists() -> None:
    assert runbook_problems(PROMETHEUS_DIR / "rules", ROOT) == []


def test_the_runbook_check_finds_a_missing_url_a_wrong_one_and_a_missing_file(tmp_path: Path) -> None:
    # given: one alert per kind of mistake, and one that is right
    (tmp_path / "docs" / "runbooks").mkdir(parents=True)
    (tmp_path / "docs" / "runbooks" / "Fine.md").write_text("# Fine\n")
    (tmp_path / "docs" / "runbooks" / "Untitled.md").write_text("Untitled\n")
    (tmp_path / "rules").mkdir()
    alerts = [
        {"alert": "Fine", "expr": "up == 0", "annotations": {"runbook_url": "docs/runbooks/Fine.md"}},
        {"alert": "NoUrl", "expr": "up == 0", "annotations": {"summary": "s"}},
        {"alert": "NoAnnotations", "expr": "up == 0"},
        {"alert": "Elsewhere", "expr": "up == 0", "annotations": {"runbook_url": "https://wiki.invalid/x"}},
        {"alert": "Missing", "expr": "up == 0", "annotations": {"runbook_url": "docs/runbooks/Missing.md"}},
        {"alert": "Untitled", "expr": "up == 0", "annotations": {"runbook_url": "docs/runbooks/Untitled.md"}},
    ]
    (tmp_path / "rules" / "x.yml").write_text(
        yaml.safe_dump({"groups": [{"name": "g", "rules": [{"record": "r", "expr": "up"}, *alerts]}]})
    )

    # when
    problems = runbook_problems(tmp_path / "rules", tmp_path)

    # then
    assert problems == [
        "x.yml: NoUrl: no runbook_url",
        "x.yml: NoAnnotations: no runbook_url",
        "x.yml: Elsewhere: runbook_url https://wiki.invalid/x is not docs/runbooks/Elsewhere.md",
        "x.yml: Missing: docs/runbooks/Missing.md does not exist",
        "x.yml: Untitled: docs/runbooks/Untitled.md does not open with '# Untitled'",
    ]


def test_the_required_alerts_exist() -> None:
    names = {rule["alert"] for rule in load_rules() if "alert" in rule}

    assert names >= {
        "TargetDown",
        "HighHttp5xxRatio",
        "HighHttpP99Latency",
        "KafkaConsumerLagHigh",
        "OutboxOldestEventAgeHigh",
        "OutboxDeadRows",
        "EventsDeadLettered",
        "CheckoutFailureSpike",
    }


def test_every_runbook_belongs_to_an_alert() -> None:
    names = {rule["alert"] for rule in load_rules() if "alert" in rule}

    assert {p.stem for p in RUNBOOK_DIR.glob("*.md")} == names


def test_shop_scrape_jobs_are_named_after_processes_and_labelled_with_their_service() -> None:
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}

    for name, service in SHOP_JOBS.items():
        assert name in jobs, f"missing scrape job {name}"
        for static in jobs[name]["static_configs"]:
            assert static["labels"]["service"] == service, name


def test_every_scrape_target_is_a_compose_service_on_a_port_it_listens_on() -> None:
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    services = load_compose()["services"]

    for job in config["scrape_configs"]:
        for static in job["static_configs"]:
            for target in static["targets"]:
                host, _, port = target.rpartition(":")
                if host == "localhost":
                    assert job["job_name"] == "prometheus"
                    continue
                assert host in services, f"{job['job_name']}: {host} is not a compose service"
                environment = services[host].get("environment", {})
                command = " ".join(str(part) for part in services[host].get("command", []))
                if "METRICS_PORT" in environment:
                    assert str(environment["METRICS_PORT"]) == port, job["job_name"]
                elif host in SHOP_JOBS:
                    assert re.search(rf"(:|--port\", \"|--port ){port}\b", command), (job["job_name"], command)


def test_amtool_accepts_the_alertmanager_config(tmp_path: Path) -> None:
    amtool = require_tool("amtool")
    config = ALERTMANAGER_FILE.read_text()
    version = run([amtool, "--version"]).stdout + run([amtool, "--version"]).stderr
    match = re.search(r"version (\d+)\.(\d+)", version)
    assert match, version
    if (int(match.group(1)), int(match.group(2))) < (0, 26):
        # `url_file` (the webhook URL from a secret file) arrived in Alertmanager 0.26; the image is
        # newer, Debian bookworm's amtool is 0.25. Check everything else with an equivalent `url`.
        config = config.replace("url_file: /run/secrets/alertmanager_webhook_url", "url: http://alerts.invalid/hook")
    checked = tmp_path / "alertmanager.yml"
    checked.write_text(config)

    result = run([amtool, "check-config", str(checked)])

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        ({"alertname": "TargetDown", "severity": "critical", "service": "orders"}, "webhook-critical"),
        ({"alertname": "KafkaConsumerLagHigh", "severity": "warning", "service": "carts"}, "webhook"),
        (
            {
                "alertname": "CheckoutAvailabilityBudgetBurn",
                "severity": "critical",
                "slo": "checkout",
                "window": "1h/5m",
            },
            "webhook-critical",
        ),
        (
            {"alertname": "BrowseLatencyBudgetBurn", "severity": "warning", "slo": "browse", "window": "3d/6h"},
            "webhook",
        ),
    ],
)
def test_alertmanager_routes_alerts_by_severity(tmp_path: Path, labels: dict[str, str], receiver: str) -> None:
    amtool = require_tool("amtool")
    config = ALERTMANAGER_FILE.read_text().replace(
        "url_file: /run/secrets/alertmanager_webhook_url", "url: http://alerts.invalid/hook"
    )
    checked = tmp_path / "alertmanager.yml"
    checked.write_text(config)

    result = run(
        [
            amtool,
            "config",
            "routes",
            "test",
            "--config.file",
            str(checked),
            *(f"{k}={v}" for k, v in labels.items()),
        ]
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receiver


# --- SLOs (rules/shop-slo.yml, docs/slo.md) ------------------------------------------------------------

SLO_FILE = PROMETHEUS_DIR / "rules" / "shop-slo.yml"
SLO_TESTS = PROMETHEUS_DIR / "tests" / "shop-slo.test.yml"
SLOS = {"browse": "Browse", "cart": "Cart", "checkout": "Checkout"}
OBJECTIVES = {"availability": 0.999, "latency": 0.99}
SLO_WINDOWS = ["5m", "30m", "1h", "6h", "3d"]
# The Google SRE workbook's pairs: (long window, short window) -> (severity, burn-rate factor)
BURN_PAIRS = {"1h/5m": ("critical", 14.4), "6h/30m": ("critical", 6.0), "3d/6h": ("warning", 1.0)}
BURN_EXPR = re.compile(
    r"^slo:sli_error:ratio_rate(?P<long>\w+)(?P<sel>\{[^}]*\}) / slo:error_budget:ratio(?P=sel) > (?P<f1>[0-9.]+)\n"
    r"and\n"
    r"slo:sli_error:ratio_rate(?P<short>\w+)(?P=sel) / slo:error_budget:ratio(?P=sel) > (?P<f2>[0-9.]+)\n$"
)


def slo_rules() -> list[dict]:
    return [rule for group in yaml.safe_load(SLO_FILE.read_text())["groups"] for rule in group["rules"]]


def test_every_slo_records_its_objective_budget_and_error_ratio_at_every_window() -> None:
    recorded: dict[tuple[str, str], dict[str, str]] = {}
    for rule in slo_rules():
        if "record" in rule:
            key = (rule["labels"]["slo"], rule["labels"]["sli"])
            assert rule["record"] not in recorded.setdefault(key, {}), (key, rule["record"])
            recorded[key][rule["record"]] = rule["expr"]

    assert set(recorded) == {(slo, sli) for slo in SLOS for sli in OBJECTIVES}
    for (slo, sli), records in recorded.items():
        assert set(records) == {
            "slo:objective:ratio",
            "slo:error_budget:ratio",
            "slo:sli_events:rate5m",
            "slo:sli_bad_events:rate5m",
            *(f"slo:sli_error:ratio_rate{w}" for w in SLO_WINDOWS),
        }, (slo, sli)
        objective = float(records["slo:objective:ratio"].removeprefix("vector(").removesuffix(")"))
        budget = float(records["slo:error_budget:ratio"].removeprefix("vector(").removesuffix(")"))
        assert objective == OBJECTIVES[sli], (slo, sli)
        assert abs(objective + budget - 1) < 1e-12, (slo, sli)
        for window in SLO_WINDOWS[1:]:
            # each longer window divides the same bad events by the same events as the 5m rates
            ratio = records[f"slo:sli_error:ratio_rate{window}"]
            assert ratio.count(f"[{window}]") == ratio.count("[") >= 2, (slo, sli, window)
            assert ratio.replace(f"[{window}]", "[5m]") == (
                records["slo:sli_bad_events:rate5m"] + "/\n" + records["slo:sli_events:rate5m"]
            ), (slo, sli, window)
        assert records["slo:sli_error:ratio_rate5m"] == (
            f'slo:sli_bad_events:rate5m{{slo="{slo}", sli="{sli}"}} / slo:sli_events:rate5m{{slo="{slo}", sli="{sli}"}}'
        )


def test_every_slo_alert_pages_and_tickets_on_the_workbook_window_pairs() -> None:
    alerts: dict[str, dict[str, dict]] = {}
    for rule in slo_rules():
        if "alert" in rule:
            alerts.setdefault(rule["alert"], {})[rule["labels"]["window"]] = rule

    assert set(alerts) == {f"{title}{sli.title()}BudgetBurn" for title in SLOS.values() for sli in OBJECTIVES}
    for name, by_window in alerts.items():
        assert set(by_window) == set(BURN_PAIRS), name
        for window, rule in by_window.items():
            severity, factor = BURN_PAIRS[window]
            match = BURN_EXPR.match(rule["expr"])
            assert match, (name, rule["expr"])
            slo = next(s for s, title in SLOS.items() if name.startswith(title))
            sli = name.removeprefix(SLOS[slo]).removesuffix("BudgetBurn").lower()
            assert match.group("sel") == f'{{slo="{slo}", sli="{sli}"}}', name
            assert f"{match.group('long')}/{match.group('short')}" == window, name
            assert float(match.group("f1")) == float(match.group("f2")) == factor, (name, window)
            assert rule["labels"] == {"severity": severity, "window": window}, (name, window)
            assert "for" not in rule, (name, window)


def test_every_slo_window_pair_has_a_firing_case_and_two_silent_ones() -> None:
    cases = yaml.safe_load(SLO_TESTS.read_text())["tests"]
    names = {rule["alert"] for rule in slo_rules() if "alert" in rule}

    for name in names:
        sli = "latency" if "Latency" in name else "availability"
        for window in BURN_PAIRS:
            # fires: this pair alone; silent: the short window recovered, and a burn just under the factor
            checked = [
                (case["name"], [alert["exp_labels"]["window"] for alert in check["exp_alerts"]])
                for case in cases
                if case["name"].startswith(f"{sli} {window} ")
                for check in case["alert_rule_test"]
                if check["alertname"] == name
            ]
            assert [windows for case, windows in checked if " fires: " in case] == [[window]], (name, window)
            silent = [case for case, windows in checked if " silent " in case and windows == []]
            assert len(silent) == 2, (name, window, checked)
            assert any("clean" in case for case in silent), silent
            assert any("just under the factor" in case for case in silent), silent


def test_the_slo_doc_names_every_slo_alert_objective_and_runbook() -> None:
    doc = (ROOT / "docs" / "slo.md").read_text()

    for rule in slo_rules():
        if "alert" in rule:
            assert rule["alert"] in doc
            assert f"runbooks/{rule['alert']}.md" in doc
    for objective in ("99.9%", "99%", "43.2 minutes", "7.2 hours", "14.4", "0.5 s", "1 s"):
        assert objective in doc, objective
