"""`make run` with Prometheus and Alertmanager: generated configuration, checked by the machine's own
promtool and amtool, and the real `python -m tools.shoprun` seen through Prometheus's HTTP API.

The live tests start the whole shop on the tests' port block (shopkit.ports.for_tests, as the e2e and
alert suites do), one of them while every port of a real `make run` is taken; the e2e and alerts suites
use the same block, so hold /tmp/shop-ports.lock when another may run.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import yaml

from shopkit import processes
from shopkit.ports import DEFAULT, for_tests
from tests.infra.support import ALERTMANAGER_FILE, PROMETHEUS_DIR, ROOT, require_tool
from tools import monitoring
from tools.shoprun import Stack

# The embedded ports (tools/shoprun.py's plan) by job, and each job's `service` label as compose gives it.
EMBEDDED = {
    "gateway": (3000, "gateway"),
    "users": (5000, "users"),
    "products": (5001, "products"),
    "orders": (5002, "orders"),
    "carts": (5003, "carts"),
    "products-grpc": (9400, "products"),
    "users-relay": (9401, "users"),
    "orders-relay": (9402, "orders"),
    "carts-consumer": (9403, "carts"),
    "products-consumer": (9404, "products"),
    "orders-expirer": (9405, "orders"),
    "prometheus": (9090, "prometheus"),
    "alertmanager": (9093, "alertmanager"),
}
# Each job's port in shopkit.ports, for the live tests' block.
PORT_FIELD = {
    "gateway": "gateway",
    "users": "users",
    "products": "products",
    "orders": "orders",
    "carts": "carts",
    "products-grpc": "products_grpc_metrics",
    "users-relay": "users_relay_metrics",
    "orders-relay": "orders_relay_metrics",
    "carts-consumer": "carts_consumer_metrics",
    "products-consumer": "products_consumer_metrics",
    "orders-expirer": "orders_expirer_metrics",
    "prometheus": "prometheus",
    "alertmanager": "alertmanager",
}
# The live `make run`s of this module: the tests' port block.
LIVE = for_tests()
LIVE_EMBEDDED = {job: (LIVE.all()[PORT_FIELD[job]], service) for job, (_, service) in EMBEDDED.items()}
PROMETHEUS = f"http://127.0.0.1:{LIVE.prometheus}"
ALERTMANAGER = f"http://127.0.0.1:{LIVE.alertmanager}"
MONITORING_BINARIES = ("prometheus", "prometheus-alertmanager", "alertmanager")


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)


@functools.cache
def _targets() -> dict[str, int]:
    """Job -> metrics port from shoprun's own plan (planned in a scratch var/: planning resets metric dirs)."""
    with tempfile.TemporaryDirectory() as scratch:
        environ = {"PATH": os.environ["PATH"], "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}
        stack = Stack(environ=environ, stream=False, var_dir=Path(scratch), monitoring=True)
        return {p.name: p.metrics_port for p in stack.plan() if p.metrics_port is not None}


def _require_monitoring() -> None:
    if monitoring.find_binaries(os.environ.get("PATH")) is None:
        require_tool("prometheus")
        require_tool("prometheus-alertmanager")


def _rule_groups() -> set[str]:
    return {
        group["name"]
        for path in (PROMETHEUS_DIR / "rules").glob("*.yml")
        for group in yaml.safe_load(path.read_text())["groups"]
    }


def _written(tmp_path: Path, webhook_url: str | None = None) -> monitoring.Layout:
    layout = monitoring.Layout(tmp_path)
    monitoring.write_configs(layout, _targets(), webhook_url=webhook_url, scrape_interval=None)
    return layout


# --- generated configuration ---------------------------------------------------------------------


def test_the_embedded_prometheus_config_passes_promtool_with_the_full_stacks_rule_files(tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    layout = _written(tmp_path)

    result = _run([promtool, "check", "config", str(layout.prometheus_config)])

    assert result.returncode == 0, result.stdout + result.stderr
    rule_files = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
    assert f"SUCCESS: {len(rule_files)} rule files found" in result.stdout
    for path in rule_files:
        assert f"Checking {path}\n  SUCCESS" in result.stdout
    config = yaml.safe_load(layout.prometheus_config.read_text())
    assert config["rule_files"] == [str(PROMETHEUS_DIR / "rules" / "*.yml")]  # read in place, not copied
    assert layout.prometheus_config.stat().st_mode & 0o777 == 0o600


def test_embedded_jobs_are_the_compose_jobs_make_run_has_on_its_ports_with_compose_labels(tmp_path: Path) -> None:
    # given
    compose = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    compose_jobs = {job["job_name"]: job for job in compose["scrape_configs"]}

    # when
    config = yaml.safe_load(_written(tmp_path).prometheus_config.read_text())

    # then
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == set(EMBEDDED)
    assert set(compose_jobs) - set(jobs) == monitoring.FULL_STACK_ONLY_JOBS  # a new compose job must be decided on
    for name, (port, service) in EMBEDDED.items():
        assert jobs[name]["static_configs"] == [{"targets": [f"127.0.0.1:{port}"], "labels": {"service": service}}]
        assert compose_jobs[name]["static_configs"][0]["labels"] == {"service": service}
        assert "basic_auth" not in jobs[name]  # loopback only, nothing asks for it
    assert config["global"] == compose["global"]
    assert config["alerting"] == {"alertmanagers": [{"static_configs": [{"targets": ["127.0.0.1:9093"]}]}]}


def test_a_shorter_scrape_interval_also_shortens_evaluation_and_a_longer_timeout() -> None:
    config = monitoring.prometheus_config(_targets(), scrape_interval="2s")

    assert config["global"]["scrape_interval"] == "2s"
    assert config["global"]["evaluation_interval"] == "2s"
    assert config["global"]["scrape_timeout"] == "2s"


def _rules_by_name(path: Path) -> dict[tuple[str, str, int], dict[str, Any]]:
    """Every rule of a rule file by (group, alert or record name, position in its group)."""
    rules = {}
    for group in yaml.safe_load(path.read_text())["groups"]:
        for index, rule in enumerate(group["rules"]):
            rules[(group["name"], rule.get("alert") or rule["record"], index)] = rule
    return rules


def test_the_alert_for_cap_cuts_only_longer_for_durations_and_keeps_every_expression(tmp_path: Path) -> None:
    promtool = require_tool("promtool")

    # when
    out = monitoring.write_capped_rules(tmp_path / "rules", "3s")

    # then: the same files, the same rules; every `for:` above 3 s is 3 s, everything else is as written
    sources = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
    assert sorted(p.name for p in out.glob("*.yml")) == [p.name for p in sources]
    capped_count = 0
    for source in sources:
        original, capped = _rules_by_name(source), _rules_by_name(out / source.name)
        assert capped.keys() == original.keys()
        for key, rule in original.items():
            assert {k: v for k, v in capped[key].items() if k != "for"} == {k: v for k, v in rule.items() if k != "for"}
            if "for" in rule:
                capped_count += 1
                assert capped[key]["for"] == "3s"
            else:
                assert "for" not in capped[key]
    assert capped_count >= 5  # TargetDown's 2m, the HTTP alerts' 5m and 10m, ...
    checked = _run([promtool, "check", "rules", *map(str, sorted(out.glob("*.yml")))])
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_for_shorter_than_the_cap_is_kept_and_a_bad_cap_is_refused(tmp_path: Path) -> None:
    rules = {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up == 0", "for": "1s"}]}]}

    assert monitoring.capped_rules(rules, "3s") == rules
    with pytest.raises(ValueError, match="unsupported duration"):
        monitoring.write_capped_rules(tmp_path / "rules", "3 seconds")
    assert not (tmp_path / "rules").exists()


def test_with_the_cap_set_the_embedded_prometheus_reads_the_capped_copy(tmp_path: Path) -> None:
    # given
    layout = monitoring.Layout(tmp_path)

    # when
    monitoring.write_configs(layout, _targets(), webhook_url=None, scrape_interval=None, for_cap="2s")

    # then
    config = yaml.safe_load(layout.prometheus_config.read_text())
    assert config["rule_files"] == [str(layout.prometheus_rules / "*.yml")]
    target_down = _rules_by_name(layout.prometheus_rules / "shop-alerts.yml")[("shop-availability", "TargetDown", 0)]
    assert target_down["for"] == "2s"


def test_the_embedded_prometheus_keeps_exemplars_like_the_full_stacks() -> None:
    compose = yaml.safe_load((ROOT / "compose" / "docker-compose.yml").read_text())

    argv = monitoring.prometheus_argv("prometheus", monitoring.Layout(Path("/v")), log_format="logfmt")

    assert "--enable-feature=exemplar-storage" in compose["services"]["prometheus"]["command"]
    assert "--enable-feature=exemplar-storage" in argv


def test_a_make_run_process_without_a_compose_scrape_job_is_refused() -> None:
    with pytest.raises(ValueError, match="no scrape job"):
        monitoring.prometheus_config({**_targets(), "payments": 5009})


def _amtool() -> str:
    amtool = require_tool("amtool")
    version = _run([amtool, "--version"])
    sys.stdout.write(f"amtool: {(version.stdout + version.stderr).splitlines()[0]}\n")
    return amtool


@pytest.mark.parametrize("webhook_url", [None, "http://127.0.0.1:8099/alerts?token=x"])
def test_the_embedded_alertmanager_config_passes_the_machines_amtool(tmp_path: Path, webhook_url: str | None) -> None:
    amtool = _amtool()
    layout = _written(tmp_path, webhook_url)

    result = _run([amtool, "check-config", str(layout.alertmanager_config)])

    assert result.returncode == 0, result.stdout + result.stderr
    assert layout.alertmanager_config.stat().st_mode & 0o777 == 0o600  # the URL may carry a token


@pytest.mark.parametrize("webhook_url", [None, "http://127.0.0.1:8099/alerts"])
def test_the_embedded_alertmanager_keeps_composes_routes_and_inhibit_rules(
    tmp_path: Path, webhook_url: str | None
) -> None:
    # given
    compose = yaml.safe_load(ALERTMANAGER_FILE.read_text())

    # when
    embedded = yaml.safe_load(_written(tmp_path, webhook_url).alertmanager_config.read_text())

    # then
    assert embedded["route"] == compose["route"]
    assert embedded["inhibit_rules"] == compose["inhibit_rules"]
    assert embedded["global"] == compose["global"]
    assert [r["name"] for r in embedded["receivers"]] == [r["name"] for r in compose["receivers"]]
    for mine, theirs in zip(embedded["receivers"], compose["receivers"], strict=True):
        if webhook_url is None:
            assert "webhook_configs" not in mine
        else:
            expected = [
                {**{k: v for k, v in hook.items() if k != "url_file"}, "url": webhook_url}
                for hook in theirs["webhook_configs"]
            ]
            assert mine["webhook_configs"] == expected


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        ({"alertname": "TargetDown", "severity": "critical", "service": "orders"}, "webhook-critical"),
        ({"alertname": "KafkaConsumerLagHigh", "severity": "warning", "service": "carts"}, "webhook"),
    ],
)
def test_the_embedded_alertmanager_routes_by_severity_like_composes(
    tmp_path: Path, labels: dict[str, str], receiver: str
) -> None:
    amtool = _amtool()
    layout = _written(tmp_path)

    result = _run(
        [amtool, "config", "routes", "test", "--config.file", str(layout.alertmanager_config)]
        + [f"{k}={v}" for k, v in labels.items()]
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receiver


# --- the real `make run` -------------------------------------------------------------------------


@dataclass
class Webhook:
    """A webhook receiver on a free loopback port: what Alertmanager delivers, in order."""

    server: ThreadingHTTPServer
    received: queue.Queue[dict[str, Any]] = field(default_factory=queue.Queue)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/alerts"


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    received: queue.Queue[dict[str, Any]] = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.put(json.loads(self.rfile.read(int(self.headers["content-length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Webhook(server, received)
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One var/ for the module: the second start reuses the first one's migrations and demo data."""
    return tmp_path_factory.mktemp("var")


@dataclass
class MakeRun:
    proc: subprocess.Popen[str]
    lines: list[str]

    def banner(self, deadline: float) -> list[str]:
        """stdout up to the end of the banner (its last line is blank after the demo data's lines)."""
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line.rstrip("\n"))
            if any(text.startswith("Shop is up") for text in self.lines) and self.lines[-1].startswith("  Logs:"):
                return self.lines
        raise AssertionError(f"no banner (exit {self.proc.poll()}):\n" + "\n".join(self.lines))

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


def _make_run(var_dir: Path, **env: str) -> MakeRun:
    environ = {k: v for k, v in os.environ.items() if k not in {"KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "CACHE_URL"}}
    environ.update({**LIVE.environ(), "SHOP_VAR_DIR": str(var_dir), "OTEL_EXPORTER_OTLP_ENDPOINT": "", **env})
    proc = subprocess.Popen(
        [sys.executable, "-m", "tools.shoprun", "--quiet"],
        cwd=ROOT,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=(var_dir / "shoprun.stderr").open("a"),
        text=True,
    )
    return MakeRun(proc, [])


def _poll(what: str, check: Any, deadline: float) -> Any:
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except httpx.TransportError as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.25)
    raise AssertionError(f"{what}: not in time; last seen {last!r}")


def _post_when_ready(alert: dict[str, str], result: queue.Queue[int | str], deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{ALERTMANAGER}/-/ready", timeout=1.0).status_code == 200:
                result.put(httpx.post(f"{ALERTMANAGER}/api/v2/alerts", json=[{"labels": alert}], timeout=5).status_code)
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    result.put("Alertmanager never answered")


def _port_open(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/", timeout=1.0)
    except httpx.TransportError:
        return False
    return True


@pytest.fixture
def make_runs_ports_taken() -> Iterator[list[int]]:
    """Every port of a default `make run` taken, as while one is up: listened on here, unless something
    (a real `make run`) already does. Yields the ports this test holds itself."""
    held = []
    with ExitStack() as sockets:
        for port in DEFAULT.all().values():
            sock = sockets.enter_context(socket.socket())
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past connections of another run
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue  # something listens there already: all the better
            sock.listen()
            held.append(port)
        yield held


def test_make_run_scrapes_every_process_loads_every_rule_group_and_delivers_to_the_webhook(
    var_dir: Path, webhook: Webhook, make_runs_ports_taken: list[int]
) -> None:
    _require_monitoring()
    # given: make run's own ports all taken (tests run beside a `make run`: theirs is another block)
    assert not [port for port in DEFAULT.all().values() if processes.port_free(port)]
    # and `make run` on the tests' block with a 1 s scrape interval and a webhook for the alerts
    started = time.monotonic()
    run = _make_run(var_dir, SHOP_PROMETHEUS_SCRAPE_INTERVAL="1s", SHOP_ALERT_WEBHOOK_URL=webhook.url)
    alert = {"alertname": "ShopRunMonitoringCheck", "severity": "critical", "service": "gateway"}
    posted: queue.Queue[int | str] = queue.Queue()
    try:
        # when: as soon as Alertmanager answers (its critical route waits 10 s: not after the banner), an
        # alert goes to it the way Prometheus sends one
        threading.Thread(target=_post_when_ready, args=(alert, posted, started + 150), daemon=True).start()
        banner = run.banner(deadline=started + 150)
        up_in = time.monotonic() - started
        assert f"  API (gateway)     {LIVE.url('gateway')}/api/" in banner
        assert f"  users admin       {LIVE.url('users')}/admin/" in banner
        assert f"  Prometheus        http://127.0.0.1:{LIVE.prometheus}/" in banner
        assert f"  Alertmanager      http://127.0.0.1:{LIVE.alertmanager}/" in banner
        assert posted.get(timeout=10) == 200

        # then: every embedded target up, with compose's job and service labels, on its port
        def all_up() -> dict[str, tuple[str, str, str]] | None:
            active = httpx.get(f"{PROMETHEUS}/api/v1/targets", params={"state": "active"}, timeout=5).json()
            seen = {
                t["labels"]["job"]: (t["labels"]["service"], t["scrapeUrl"], t["health"])
                for t in active["data"]["activeTargets"]
            }
            return (
                seen if all(health == "up" for _, _, health in seen.values()) and set(seen) == set(EMBEDDED) else None
            )

        targets = _poll("every target up", all_up, time.monotonic() + 30)
        targets_in = time.monotonic() - started
        assert targets == {
            job: (service, f"http://127.0.0.1:{port}/metrics", "up") for job, (port, service) in LIVE_EMBEDDED.items()
        }

        # and every rule group of compose/prometheus/rules loaded from there
        rules = httpx.get(f"{PROMETHEUS}/api/v1/rules", timeout=5).json()["data"]["groups"]
        assert {group["name"] for group in rules} == _rule_groups()
        assert {Path(group["file"]).parent for group in rules} == {PROMETHEUS_DIR / "rules"}

        # and Prometheus sends its alerts to the embedded Alertmanager
        alertmanagers = httpx.get(f"{PROMETHEUS}/api/v1/alertmanagers", timeout=5).json()["data"]
        assert [a["url"] for a in alertmanagers["activeAlertmanagers"]] == [f"{ALERTMANAGER}/api/v2/alerts"]

        # and the critical route delivered the alert to the webhook given by url (group_wait 10 s)
        delivered = webhook.received.get(timeout=30)
        delivered_in = time.monotonic() - started
        assert delivered["receiver"] == "webhook-critical"
        assert [a["labels"] for a in delivered["alerts"]] == [alert]
        sys.stdout.write(
            f"\nmake run with monitoring: banner {up_in:.1f} s, every target up {targets_in:.1f} s, "
            f"webhook delivery {delivered_in:.1f} s after start\n"
        )
    finally:
        stopping = time.monotonic()
        code = run.stop()
        sys.stdout.write(f"make run with monitoring stopped in {time.monotonic() - stopping:.1f} s\n")

    # then: stopped with the rest
    assert code == 0, (var_dir / "shoprun.stderr").read_text()
    assert not _port_open(LIVE.prometheus)
    assert not _port_open(LIVE.alertmanager)


def test_without_prometheus_on_path_make_run_starts_the_rest_and_says_how_to_get_it(
    var_dir: Path, tmp_path: Path
) -> None:
    # given: PATH without the monitoring binaries (each directory holding one is shadowed without them)
    entries = []
    for index, directory in enumerate(os.environ["PATH"].split(os.pathsep)):
        folder = Path(directory)
        if not any((folder / name).exists() for name in MONITORING_BINARIES):
            entries.append(directory)
            continue
        shadow = tmp_path / f"path{index}"
        shadow.mkdir()
        for item in folder.iterdir():
            if item.name not in MONITORING_BINARIES:
                (shadow / item.name).symlink_to(item)
        entries.append(str(shadow))
    path = os.pathsep.join(entries)
    assert monitoring.find_binaries(path) is None

    # when
    run = _make_run(var_dir, PATH=path)
    try:
        banner = run.banner(deadline=time.monotonic() + 150)

        # then
        assert [line for line in banner if "Prometheus" in line] == [f"  {monitoring.INSTALL_HINT}"]
        assert "apt-get install prometheus prometheus-alertmanager" in monitoring.INSTALL_HINT
        assert httpx.get(f"{LIVE.url('gateway')}/api/health", timeout=5).status_code == 200
        assert not _port_open(LIVE.prometheus)
        assert not _port_open(LIVE.alertmanager)
    finally:
        code = run.stop()
    assert code == 0, (var_dir / "shoprun.stderr").read_text()


def test_with_prometheus_port_taken_make_run_plans_without_monitoring_and_says_why(tmp_path: Path) -> None:
    # given: something else (Debian's own prometheus service, say) listens on the Prometheus port
    _require_monitoring()
    environ = {"PATH": os.environ["PATH"], "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", **LIVE.environ()}
    stack = Stack(environ=environ, stream=False, var_dir=tmp_path, monitoring=True)
    planned = stack.plan()
    assert {"prometheus", "alertmanager"} <= {p.name for p in planned}
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past connections of another test's Prometheus
        other.bind(("127.0.0.1", LIVE.prometheus))
        other.listen()

        # when
        kept = stack._prepare_monitoring(planned)

    # then
    assert [p.name for p in kept] == [p.name for p in planned if p.name not in {"prometheus", "alertmanager"}]
    assert stack.monitoring_notice is not None
    assert f"port {LIVE.prometheus} in use" in stack.monitoring_notice
    assert not monitoring.Layout(tmp_path).prometheus_config.exists()


def _alive(pid: int) -> bool:
    """`pid` runs (a zombie left to an init that does not reap counts as gone: it holds no port)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_make_run_killed_with_sigkill_takes_every_child_and_its_ports_with_it(var_dir: Path) -> None:
    # given: `make run` up, and every process under it (gunicorn and uvicorn workers too)
    run = _make_run(var_dir)
    children: list[int] = []
    try:
        run.banner(deadline=time.monotonic() + 150)
        children += [p.pid for p in psutil.Process(run.proc.pid).children(recursive=True)]
        ports = [port for port in LIVE.all().values() if not processes.port_free(port)]
        assert len(children) >= 12  # the broker, 5 web servers and their workers, gRPC, 4 event workers
        assert set(ports) >= {LIVE.gateway, LIVE.users, LIVE.products_grpc, LIVE.kafka}

        # when: the launcher dies without a chance to stop anything
        run.proc.kill()
        assert run.proc.wait(timeout=10) == -signal.SIGKILL
        killed = time.monotonic()

        # then: every child ends and every port is free again, without anyone stopping them
        def all_gone() -> bool:
            return not [pid for pid in children if _alive(pid)] and all(processes.port_free(p) for p in ports)

        _poll("children and ports gone", all_gone, time.monotonic() + 60)
        sys.stdout.write(
            f"\nmake run SIGKILLed: {len(children)} children and {len(ports)} ports gone in "
            f"{time.monotonic() - killed:.1f} s\n"
        )
    finally:
        # Never leave one behind, whatever failed above.
        for pid in children:
            with contextlib.suppress(psutil.NoSuchProcess):
                psutil.Process(pid).kill()
        run.stop()
