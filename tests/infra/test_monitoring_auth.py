"""No container can stop monitoring or silence an alert: Prometheus and Alertmanager ask for basic auth.

Prometheus and Alertmanager run for real (Debian's packages) with the compose file's own command
lines and web configs, on 127.0.0.1. Grafana and Alloy have no package here: their provisioning and
configuration are checked as files (datasource credentials, the Docker API they reach).
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bcrypt
import httpx
import pytest
import yaml

from tests.infra.support import ALERTMANAGER_FILE, COMPOSE_DIR, GRAFANA_DIR, PROMETHEUS_DIR, load_compose, require_tool

PASSWORD = "a-test-only-monitoring-password"  # made up for this test  # pragma: allowlist secret
WRONG = ("prometheus", "not-the-password")
DOCKER_PROXY_SOCKET = "unix:///run/docker-proxy/docker.sock"


def _service(name: str) -> dict[str, Any]:
    service: dict[str, Any] = load_compose()["services"][name]
    return service


def _web_config(name: str, password: str) -> str:
    """The compose `configs:` content, interpolated as compose does with a hash of `password`."""
    content: str = load_compose()["configs"][f"{name}_web_config"]["content"]
    digest = bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()
    return re.sub(r"\$\{[A-Z_]+_PASSWORD_HASH:\?[^}]*\}", lambda _: digest, content)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _command(name: str, replacements: dict[str, str], listen: str) -> list[str]:
    """The compose service's command line, its container paths pointed at this test's files."""
    argv = []
    for arg in _service(name)["command"]:
        flag, _, value = str(arg).partition("=")
        argv.append(f"{flag}={replacements.get(value, value)}" if value in replacements else str(arg))
    return [*argv, f"--web.listen-address={listen}"]


@dataclass
class Running:
    url: str
    proc: subprocess.Popen[bytes]
    directory: Path


def _start(argv: list[str], url: str, auth: tuple[str, str], directory: Path) -> Running:
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=(directory / "log").open("wb"))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, (directory / "log").read_text()
        try:
            if httpx.get(f"{url}/-/ready", auth=auth, timeout=2.0).status_code == 200:
                return Running(url, proc, directory)
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"{argv[0]} was not ready within 60 s:\n{(directory / 'log').read_text()}")


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    binary = require_tool("prometheus")
    directory = tmp_path_factory.mktemp("prometheus")
    (directory / "web.yml").write_text(_web_config("prometheus", PASSWORD))
    port = _free_port()
    argv = _command(
        "prometheus",
        {
            "/etc/prometheus/prometheus.yml": str(PROMETHEUS_DIR / "prometheus.yml"),
            "/etc/prometheus-web/web.yml": str(directory / "web.yml"),
            "/prometheus": str(directory / "data"),
        },
        f"127.0.0.1:{port}",
    )
    running = _start([binary, *argv], f"http://127.0.0.1:{port}", ("prometheus", PASSWORD), directory)
    yield running
    running.proc.terminate()
    running.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager") or require_tool("alertmanager")
    directory = tmp_path_factory.mktemp("alertmanager")
    (directory / "web.yml").write_text(_web_config("alertmanager", PASSWORD))
    (directory / "webhook_url").write_text("http://127.0.0.1:9/alerts\n")
    config = ALERTMANAGER_FILE.read_text()
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    if "version 0.25." in version.stdout + version.stderr:
        # Debian bookworm's 0.25 predates `url_file` (0.26, the image's 0.28 has it): same route, literal URL.
        config = config.replace("url_file: /run/secrets/alertmanager_webhook_url", "url: http://127.0.0.1:9/alerts")
    (directory / "alertmanager.yml").write_text(config)
    port = _free_port()
    argv = _command(
        "alertmanager",
        {
            "/etc/alertmanager/alertmanager.yml": str(directory / "alertmanager.yml"),
            "/etc/alertmanager-web/web.yml": str(directory / "web.yml"),
            "/alertmanager": str(directory / "data"),
        },
        f"127.0.0.1:{port}",
    )
    running = _start([binary, *argv], f"http://127.0.0.1:{port}", ("alertmanager", PASSWORD), directory)
    yield running
    running.proc.terminate()
    running.proc.wait(timeout=30)


# --- the compose stack, as files -----------------------------------------------------------------


def test_prometheus_runs_without_lifecycle_or_admin_api_and_with_its_web_config() -> None:
    prometheus = _service("prometheus")
    command = [str(arg) for arg in prometheus["command"]]

    assert not [arg for arg in command if arg.startswith(("--web.enable-lifecycle", "--web.enable-admin-api"))]
    assert "--web.config.file=/etc/prometheus-web/web.yml" in command
    assert prometheus["configs"] == [{"source": "prometheus_web_config", "target": "/etc/prometheus-web/web.yml"}]


def test_alertmanager_runs_with_its_web_config_and_no_gossip_port() -> None:
    alertmanager = _service("alertmanager")
    command = [str(arg) for arg in alertmanager["command"]]

    assert "--web.config.file=/etc/alertmanager-web/web.yml" in command
    assert "--cluster.listen-address=" in command
    assert alertmanager["configs"] == [{"source": "alertmanager_web_config", "target": "/etc/alertmanager-web/web.yml"}]


@pytest.mark.parametrize("name", ["prometheus", "alertmanager"])
def test_promtool_accepts_each_web_config(tmp_path: Path, name: str) -> None:
    # given
    promtool = require_tool("promtool")
    path = tmp_path / "web.yml"
    path.write_text(_web_config(name, PASSWORD))

    # when
    result = subprocess.run([promtool, "check", "web-config", str(path)], capture_output=True, text=True, check=False)

    # then
    assert result.returncode == 0, result.stdout + result.stderr
    assert yaml.safe_load(path.read_text())["basic_auth_users"].keys() == {name}


def _password_files(node: Any) -> list[tuple[str, str]]:
    """Every (username, password_file) of basic_auth blocks in a parsed config."""
    found = []
    if isinstance(node, dict):
        auth = node.get("basic_auth")
        if isinstance(auth, dict):
            found.append((auth["username"], auth["password_file"]))
        for value in node.values():
            found.extend(_password_files(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_password_files(item))
    return found


def test_every_client_authenticates_with_the_user_and_secret_of_the_server_it_calls() -> None:
    secrets_of = {
        name: set(_service(name).get("secrets", [])) for name in ("prometheus", "alertmanager", "tempo", "grafana")
    }
    expected = {
        "prometheus": "/run/secrets/prometheus_password",
        "alertmanager": "/run/secrets/alertmanager_password",
    }
    clients = {
        "prometheus": PROMETHEUS_DIR / "prometheus.yml",
        "tempo": COMPOSE_DIR / "tempo" / "tempo.yml",
    }

    # Prometheus (its scrapes of itself and Alertmanager, its alerts) and Tempo (remote write)
    for container, path in clients.items():
        pairs = _password_files(yaml.safe_load(path.read_text()))
        assert pairs, path
        for user, password_file in pairs:
            assert expected[user] == password_file, (path, user)
            assert f"{user}_password" in secrets_of[container], (container, user)
    prometheus_config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in prometheus_config["scrape_configs"]}
    assert jobs["prometheus"]["basic_auth"]["username"] == "prometheus"
    assert jobs["alertmanager"]["basic_auth"]["username"] == "alertmanager"
    assert prometheus_config["alerting"]["alertmanagers"][0]["basic_auth"]["username"] == "alertmanager"
    # the health checks
    for name, client in (
        ("prometheus", PROMETHEUS_DIR / "client.yml"),
        ("alertmanager", ALERTMANAGER_FILE.parent / "client.yml"),
    ):
        assert _password_files({"c": yaml.safe_load(client.read_text())}) == [(name, expected[name])]
        assert f"--http.config.file=/etc/{name}/client.yml" in _service(name)["healthcheck"]["test"]
    # Grafana (not installable here: its provisioning file is checked as written)
    datasources = yaml.safe_load((GRAFANA_DIR / "provisioning" / "datasources" / "datasources.yml").read_text())
    by_uid = {source["uid"]: source for source in datasources["datasources"]}
    for name, password_file in expected.items():
        source = by_uid[name]
        assert (source["basicAuth"], source["basicAuthUser"]) == (True, name)
        assert source["secureJsonData"]["basicAuthPassword"] == f"$__file{{{password_file}}}"
        assert f"{name}_password" in secrets_of["grafana"]
    assert {"prometheus_password", "alertmanager_password"} <= set(load_compose()["secrets"])


def test_only_the_socket_proxy_holds_the_docker_socket_and_alloy_reads_through_it() -> None:
    # Alloy is not installable here: its configuration is checked as written.
    mounts = {
        name: [v for v in service.get("volumes", []) if isinstance(v, str) and "docker.sock" in v]
        for name, service in load_compose()["services"].items()
    }
    proxy = _service("docker-socket-proxy")
    alloy = _service("alloy")
    alloy_config = (COMPOSE_DIR / "alloy" / "config.alloy").read_text()

    assert {name for name, found in mounts.items() if found} == {"docker-socket-proxy"}
    assert (proxy["network_mode"], proxy["cap_drop"], proxy["read_only"]) == ("none", ["ALL"], True)
    assert " ".join(proxy["command"]).startswith(
        "python -m tools.docker_socket_proxy --listen /run/docker-proxy/docker.sock"
    )
    assert "docker-proxy:/run/docker-proxy" in proxy["volumes"]
    assert "docker-proxy:/run/docker-proxy:ro" in alloy["volumes"]
    assert alloy["depends_on"]["docker-socket-proxy"] == {"condition": "service_healthy"}
    hosts = re.findall(r'host\s*=\s*"([^"]+)"', alloy_config)
    assert hosts == [DOCKER_PROXY_SOCKET, DOCKER_PROXY_SOCKET]
    assert "/var/run/docker.sock" not in alloy_config


# --- Prometheus and Alertmanager, running -----------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/query?query=up"),
        ("GET", "/api/v1/targets"),
        ("GET", "/graph"),
        ("POST", "/-/reload"),
        ("POST", "/-/quit"),
        ("POST", "/api/v1/write"),
        ("POST", "/api/v1/admin/tsdb/delete_series?match[]=up"),
    ],
)
def test_prometheus_refuses_anonymous_and_wrong_credentials(prometheus: Running, method: str, path: str) -> None:
    # when
    anonymous = httpx.request(method, prometheus.url + path, timeout=5.0)
    wrong = httpx.request(method, prometheus.url + path, auth=WRONG, timeout=5.0)

    # then
    assert (anonymous.status_code, wrong.status_code) == (401, 401)
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
    assert prometheus.proc.poll() is None


def test_prometheus_answers_its_users_queries(prometheus: Running) -> None:
    # when
    response = httpx.get(f"{prometheus.url}/api/v1/query", params={"query": "1+1"}, auth=("prometheus", PASSWORD))

    # then
    assert response.status_code == 200
    assert response.json()["data"]["result"][1] == "2"


def test_even_its_users_cannot_reload_or_stop_prometheus(prometheus: Running) -> None:
    # when: the lifecycle API is off, whoever asks
    reload = httpx.post(f"{prometheus.url}/-/reload", auth=("prometheus", PASSWORD))
    quit_ = httpx.post(f"{prometheus.url}/-/quit", auth=("prometheus", PASSWORD))

    # then
    assert (reload.status_code, quit_.status_code) == (403, 403)
    assert "Lifecycle API is not enabled" in reload.text
    assert httpx.get(f"{prometheus.url}/-/ready", auth=("prometheus", PASSWORD)).status_code == 200


SILENCE = {
    "matchers": [{"name": "alertname", "value": "TargetDown", "isRegex": False, "isEqual": True}],
    "startsAt": "2030-01-01T00:00:00Z",
    "endsAt": "2030-01-01T01:00:00Z",
    "createdBy": "intruder",
    "comment": "hide the outage",
}


@pytest.mark.parametrize(
    "auth", [None, WRONG, ("alertmanager", "not-the-password")], ids=["anonymous", "wrong-user", "wrong-password"]
)
def test_alertmanager_refuses_silences_and_reads_without_its_credentials(alertmanager: Running, auth: Any) -> None:
    # when
    silence = httpx.post(f"{alertmanager.url}/api/v2/silences", json=SILENCE, auth=auth, timeout=5.0)
    alerts = httpx.get(f"{alertmanager.url}/api/v2/alerts", auth=auth, timeout=5.0)

    # then
    assert (silence.status_code, alerts.status_code) == (401, 401)
    listed = httpx.get(f"{alertmanager.url}/api/v2/silences", auth=("alertmanager", PASSWORD))
    assert listed.json() == []


def test_alertmanager_takes_silences_from_its_users_and_has_no_cluster(alertmanager: Running) -> None:
    # when
    created = httpx.post(
        f"{alertmanager.url}/api/v2/silences",
        json={**SILENCE, "createdBy": "operator"},
        auth=("alertmanager", PASSWORD),
    )
    status = httpx.get(f"{alertmanager.url}/api/v2/status", auth=("alertmanager", PASSWORD))

    # then
    assert created.status_code == 200, created.text
    silence_id = created.json()["silenceID"]
    assert (
        httpx.delete(f"{alertmanager.url}/api/v2/silence/{silence_id}", auth=("alertmanager", PASSWORD)).status_code
        == 200
    )
    assert status.json()["cluster"]["status"] == "disabled"


def test_the_alertmanager_health_check_signs_in_with_its_client_config(alertmanager: Running, tmp_path: Path) -> None:
    # given: compose's health check command, its secret file pointed at this test's password
    (tmp_path / "password").write_text(PASSWORD)
    client = (ALERTMANAGER_FILE.parent / "client.yml").read_text()
    (tmp_path / "client.yml").write_text(
        client.replace("/run/secrets/alertmanager_password", str(tmp_path / "password"))
    )
    (tmp_path / "anonymous.yml").write_text("{}\n")
    test = _service("alertmanager")["healthcheck"]["test"][1:]
    amtool = require_tool("amtool")

    def run(client_file: Path) -> int:
        argv = [amtool if arg == "amtool" else arg for arg in test]
        argv = [f"--alertmanager.url={alertmanager.url}" if a.startswith("--alertmanager.url=") else a for a in argv]
        argv = [f"--http.config.file={client_file}" if a.startswith("--http.config.file=") else a for a in argv]
        return subprocess.run(argv, capture_output=True, check=False, timeout=30).returncode

    # when / then
    assert run(tmp_path / "client.yml") == 0
    assert run(tmp_path / "anonymous.yml") != 0
