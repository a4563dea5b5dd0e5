"""The running compose stack as the stack tests see it: compose commands, container addresses, HTTPS
through Caddy, logs, and the webhook receiver Alertmanager delivers to."""

from __future__ import annotations

import functools
import json
import ssl
import subprocess
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import yaml

from shopkit.testing import polling
from shopkit.testing.http import StandInServer
from tools.stack.engine import Engine

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "compose" / "docker-compose.yml"
OVERRIDE_FILE = Path(__file__).resolve().parent / "docker-compose.stack.yml"
PROJECT = "shop"
# The host's address on the shop network (fixed in the override), where the webhook receiver listens.
HOST_ON_SHOP_NETWORK = "10.211.0.1"
# Jobs of services in the `grafana` profile, which the test leaves out.
PROFILE_JOBS = frozenset({"tempo", "alloy", "loki", "loki-gateway", "grafana"})


# The shared poll at this suite's pace (a containerised stack answers in its own time).
poll = functools.partial(polling.poll, interval=0.5)


def prometheus_config(source: Path, target: Path, *, scrape_seconds: int = 5) -> None:
    """The real Prometheus configuration without the jobs of the left-out profile, scraping faster."""
    config = yaml.safe_load(source.read_text())
    config["global"]["scrape_interval"] = f"{scrape_seconds}s"
    config["global"]["scrape_timeout"] = f"{scrape_seconds - 1}s"
    config["global"]["evaluation_interval"] = f"{scrape_seconds}s"
    config["scrape_configs"] = [job for job in config["scrape_configs"] if job["job_name"] not in PROFILE_JOBS]
    target.write_text(yaml.safe_dump(config, sort_keys=False))


class WebhookReceiver(StandInServer):
    """An Alertmanager webhook receiver: keeps every notification it is sent."""

    def __init__(self, host: str, port: int) -> None:
        received: list[dict[str, Any]] = []
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with lock:
                    received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.received = received
        self._lock = lock
        super().__init__(Handler, name="alert-webhook", host=host, port=port)

    def alerts(self, alertname: str, status: str, **labels: str) -> list[dict[str, Any]]:
        with self._lock:
            notifications = list(self.received)
        return [
            alert
            for notification in notifications
            for alert in notification["alerts"]
            if alert["labels"].get("alertname") == alertname
            and alert["status"] == status
            and all(alert["labels"].get(k) == v for k, v in labels.items())
        ]


class _ServerNameTransport(httpx.HTTPTransport):
    """Connects to a container's address but speaks TLS for `server_name` (the name Caddy's certificate is for)."""

    def __init__(self, server_name: str, context: ssl.SSLContext) -> None:
        super().__init__(verify=context)
        self._server_name = server_name

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.extensions["sni_hostname"] = self._server_name
        return super().handle_request(request)


@dataclass
class Stack:
    engine: Engine
    workdir: Path
    env_file: Path
    values: dict[str, str]
    receiver: WebhookReceiver | None = None
    # What one test leaves for a later one (the checkout's trace id, the stopped container).
    state: dict[str, Any] = field(default_factory=dict)

    def compose(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = [
            "docker",
            "compose",
            "--project-name",
            PROJECT,
            "--env-file",
            str(self.env_file),
            "-f",
            str(COMPOSE_FILE),
            "-f",
            str(OVERRIDE_FILE),
            "--profile",
            "demo",
            *args,
        ]
        env = {**self.engine.env, "STACK_PROMETHEUS_CONFIG": str(self.workdir / "prometheus.yml")}
        result = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(args)}: exit {result.returncode}\n{result.stdout}\n{result.stderr}")
        return result

    def containers(self) -> list[dict[str, Any]]:
        out = self.compose("ps", "--all", "--format", "json").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def address(self, service: str, network: str = "shop") -> str:
        [container] = [c for c in self.containers() if c["Service"] == service]
        inspected = json.loads(self.engine.docker("inspect", container["ID"]).stdout)[0]
        networks = inspected["NetworkSettings"]["Networks"]
        [name] = [n for n in networks if n == network or n.endswith(f"_{network}") or n == f"shop-{network}"]
        address: str = networks[name]["IPAddress"]
        assert address, f"{service} has no address on {network}"
        return address

    def logs(self, service: str) -> list[str]:
        return self.compose("logs", "--no-color", "--no-log-prefix", service, timeout=60).stdout.splitlines()

    def caddy_root_ca(self) -> Path:
        path = self.workdir / "caddy-root.crt"
        if not path.exists():
            self.compose("cp", "caddy:/data/caddy/pki/authorities/local/root.crt", str(path))
        return path

    def https(self, port: int = 443) -> httpx.Client:
        """A client of Caddy on the edge or staff network, for https://SHOP_DOMAIN[:port]/."""
        domain = self.values.get("SHOP_DOMAIN", "localhost")
        network = "edge" if port == 443 else "staff"
        context = ssl.create_default_context(cafile=str(self.caddy_root_ca()))
        host = domain if port == 443 else f"{domain}:{port}"
        return httpx.Client(
            base_url=f"https://{self.address('caddy', network)}:{port}",
            headers={"Host": host},
            transport=_ServerNameTransport(domain, context),
            timeout=20.0,
        )

    def http(self, service: str, port: int, *, auth: tuple[str, str] | None = None) -> httpx.Client:
        return httpx.Client(base_url=f"http://{self.address(service)}:{port}", auth=auth, timeout=20.0)

    def prometheus(self) -> httpx.Client:
        return self.http("prometheus", 9090, auth=("prometheus", self.values["PROMETHEUS_PASSWORD"]))

    def alertmanager(self) -> httpx.Client:
        return self.http("alertmanager", 9093, auth=("alertmanager", self.values["ALERTMANAGER_PASSWORD"]))
