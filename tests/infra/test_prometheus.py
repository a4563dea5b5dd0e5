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
}


def run(argv: list[str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_promtool_accepts_the_prometheus_config_and_resolves_its_rule_files() -> None:
    promtool = require_tool("promtool")

    result = run([promtool, "check", "config", str(PROMETHEUS_DIR / "prometheus.yml")])

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout


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
