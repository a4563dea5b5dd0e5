"""Run the whole shop on one machine without Docker: `make run` (also used by the e2e tests and benchmarks).

Embedded defaults: one SQLite file per service under var/, local-memory caches (for products a file
cache its processes share), Tansu as the Kafka broker. Point any of them elsewhere with the usual
environment variables (`SHOP_<SERVICE>_DATABASE_URL`, `CACHE_URL`, `KAFKA_BOOTSTRAP_SERVERS`); the
end-to-end suite runs the same processes on PostgreSQL and Redis. `make run` also starts Prometheus
and Alertmanager when the machine has them (tools/monitoring.py; `Stack(monitoring=True)`).

Its ports are shopkit.ports' (`SHOP_GATEWAY_PORT=3100 make run` moves one; README's ports table).
Every child starts in a process group of its own and gets SIGTERM when the launcher dies, even by
SIGKILL (shopkit.processes), so no port stays taken after it.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from shopkit import processes
from shopkit.ports import Ports
from tools import monitoring as shop_monitoring

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable

# Each domain service's Python package; their ports are shopkit.ports'.
DOMAIN_SERVICES = {
    "users": "user_svc",
    "products": "product_svc",
    "orders": "order_svc",
    "carts": "cart_svc",
}


@dataclass
class Process:
    """One long-running process of the shop and how to tell it is healthy."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    health_url: str | None = None
    grpc_health: str | None = None
    tcp_port: int | None = None
    # Where Prometheus scrapes it (/metrics on 127.0.0.1); its job is the process name.
    metrics_port: int | None = None
    popen: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None


def _grpc_serving(target: str, tls_dir: Path) -> bool:
    """Health over mutual TLS, presenting products' own certificate (health is open to every identity)."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from shopkit.grpc.tls import TlsFiles, channel_credentials

    credentials = channel_credentials(TlsFiles.for_identity(tls_dir, "products"))
    try:
        with grpc.secure_channel(target, credentials) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
            return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)
    except grpc.RpcError:
        return False


class Stack:
    """Prepares (keys, migrations, demo data) and runs every process of the shop."""

    def __init__(
        self,
        *,
        environ: Mapping[str, str] | None = None,
        stream: bool = True,
        var_dir: Path | None = None,
        monitoring: bool = False,
    ):
        """`monitoring`: also run Prometheus and Alertmanager when their binaries are on PATH (`make run`)."""
        base = dict(os.environ if environ is None else environ)
        self.var_dir = var_dir or Path(base.get("SHOP_VAR_DIR", ROOT / "var"))
        self.log_dir = self.var_dir / "log"
        self.stream = stream
        # SHOP_<NAME>_PORT of `environ` applied; every child is given the same (its settings derive URLs from them).
        self.ports = Ports.from_env(base)
        self.embedded_kafka = not base.get("KAFKA_BOOTSTRAP_SERVERS")
        self.kafka_bootstrap = base.get("KAFKA_BOOTSTRAP_SERVERS") or f"127.0.0.1:{self.ports.kafka}"
        # gRPC mutual TLS: the stack's CA and one certificate per service, made once by prepare().
        self.grpc_tls_dir = Path(base.get("GRPC_TLS_DIR") or self.var_dir / "grpc")
        self.base_env = {
            **base,
            **self.ports.environ(),
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            "SHOP_VAR_DIR": str(self.var_dir),
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "PRODUCTS_GRPC_TARGET": f"127.0.0.1:{self.ports.products_grpc}",
            "GRPC_TLS_DIR": str(self.grpc_tls_dir),
            **{f"{name.upper()}_URL": self.ports.url(name) for name in DOMAIN_SERVICES},
        }
        self.monitoring = monitoring
        self.monitoring_layout = shop_monitoring.Layout(self.var_dir)
        # Why monitoring did not start (one line for the banner), or None.
        self.monitoring_notice: str | None = None
        self.processes: list[Process] = []
        self._lock = threading.Lock()
        self._stopping = False

    # -- preparation -------------------------------------------------------------------------
    def service_env(self, name: str) -> dict[str, str]:
        env = dict(self.base_env)
        env.pop("DATABASE_URL", None)
        if url := self.base_env.get(f"SHOP_{name.upper()}_DATABASE_URL"):
            env["DATABASE_URL"] = url
        return env

    def manage(self, name: str, *args: str) -> subprocess.CompletedProcess[str]:
        package = DOMAIN_SERVICES[name]
        return processes.run(
            [PY, str(ROOT / package / "manage.py"), *args], env=self.service_env(name), cwd=ROOT, timeout=300
        )

    def _fingerprint(self) -> str:
        """What preparation depends on: every migration and demo-data file, and where the data lives."""
        digest = hashlib.sha256()
        sources = sorted(
            [
                *ROOT.glob("*_svc/*/migrations/*.py"),
                *ROOT.glob("shopkit/src/shopkit/*/migrations/*.py"),
                *ROOT.glob("*_svc/*/management/commands/seed_demo.py"),
                *ROOT.glob("*_svc/*/demo_data.py"),
            ]
        )
        for path in sources:
            digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
        for name in sorted(k for k in self.base_env if k.endswith("_DATABASE_URL") or k.startswith("SHOP_DEMO_")):
            digest.update(f"{name}={self.base_env[name]}".encode())
        return digest.hexdigest()

    def _prepared(self) -> Path:
        return self.var_dir / "prepared.json"

    def _already_prepared(self, fingerprint: str) -> list[str] | None:
        """The report of an earlier preparation that is still valid, or None when it must run again."""
        try:
            record = json.loads(self._prepared().read_text())
        except (OSError, ValueError):
            return None
        key = Path(self.base_env.get("JWT_PRIVATE_KEY_FILE", self.var_dir / "jwt" / "private.pem"))
        databases_exist = all(
            self.base_env.get(f"SHOP_{name.upper()}_DATABASE_URL") or (self.var_dir / f"{name}.sqlite3").exists()
            for name in DOMAIN_SERVICES
        )
        if record.get("fingerprint") != fingerprint or not key.exists() or not databases_exist:
            return None
        return [str(line) for line in record.get("report", [])]

    def prepare(self) -> list[str]:
        """Keys, migrations (in parallel), demo data. Returns the demo data's own report lines.

        A second run with the same migrations, demo data and databases skips all of it (seconds saved
        on every restart); anything changed, or a database file gone, prepares again.
        """
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.ensure_grpc_certificates()
        fingerprint = self._fingerprint()
        if (report := self._already_prepared(fingerprint)) is not None:
            return report
        report = self._prepare()
        self._prepared().write_text(json.dumps({"fingerprint": fingerprint, "report": report}))
        return report

    def ensure_grpc_certificates(self) -> list[str]:
        """The CA and the products, orders and carts certificates under var/grpc: made once, renewed
        only when missing, no longer signed by the CA there, or close to expiry."""
        from shopkit.grpc.pki import ensure_pki

        return ensure_pki(self.grpc_tls_dir)

    def _prepare(self) -> list[str]:
        self._check(self.manage("users", "jwt_keygen"), "users: jwt_keygen")
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(lambda n: (n, self.manage(n, "migrate", "--noinput")), DOMAIN_SERVICES))
        for name, result in results:
            self._check(result, f"{name}: migrate")
        report: list[str] = []
        for name in ("users", "products"):
            result = self._check(self.manage(name, "seed_demo"), f"{name}: seed_demo")
            report.extend(line for line in result.stdout.splitlines() if line.strip())
        return report

    @staticmethod
    def _check(result: subprocess.CompletedProcess[str], what: str) -> subprocess.CompletedProcess[str]:
        if result.returncode != 0:
            raise RuntimeError(f"{what} failed:\n{result.stdout}\n{result.stderr}")
        return result

    # -- processes ---------------------------------------------------------------------------
    def plan(self) -> list[Process]:
        """Every process of the shop, in start order (the broker first, monitoring last)."""
        ports = self.ports
        kafka = [
            Process(
                "kafka",
                processes.tansu_argv(ports.kafka),
                env={"OTEL_EXPORTER_OTLP_ENDPOINT": ""},
                tcp_port=ports.kafka,
            )
        ]
        procs = [
            *(kafka if self.embedded_kafka else []),
            self._web("users", ports.users),
            self._web("products", ports.products),
            self._web("orders", ports.orders),
            self._web("carts", ports.carts),
            Process(
                "gateway",
                [
                    *(PY, "-m", "uvicorn", "gateway_svc.asgi:application"),
                    *("--host", "127.0.0.1", "--port", str(ports.gateway), "--no-access-log"),
                    # X-Forwarded-For is the gateway's to judge (TRUSTED_PROXIES), not uvicorn's (which
                    # would believe any local client).
                    "--no-proxy-headers",
                    *("--timeout-graceful-shutdown", "5"),
                ],
                health_url=f"{ports.url('gateway')}/health/live",
                metrics_port=ports.gateway,
            ),
            Process(
                "products-grpc",
                [PY, "-m", "product_svc.grpc_server"],
                env={"METRICS_PORT": str(ports.products_grpc_metrics), "PRODUCTS_GRPC_PORT": str(ports.products_grpc)},
                grpc_health=f"127.0.0.1:{ports.products_grpc}",
                metrics_port=ports.products_grpc_metrics,
            ),
            self._worker("users-relay", "outbox_relay", ports.users_relay_metrics),
            self._worker("orders-relay", "outbox_relay", ports.orders_relay_metrics),
            self._worker("carts-consumer", "consume_events", ports.carts_consumer_metrics),
            self._worker("products-consumer", "consume_events", ports.products_consumer_metrics),
            self._worker("orders-expirer", "expire_pending_orders --every 60", ports.orders_expirer_metrics),
        ]
        if self.monitoring:
            procs.extend(self._monitoring_plan())
        return procs

    def _web(self, name: str, port: int) -> Process:
        """A domain service's gunicorn, with a fresh multiprocess metrics directory of its own."""
        prom_dir = self.var_dir / "prometheus" / name
        shutil.rmtree(prom_dir, ignore_errors=True)
        prom_dir.mkdir(parents=True, exist_ok=True)
        return Process(
            name,
            [
                *(PY, "-m", "gunicorn", f"{DOMAIN_SERVICES[name]}.wsgi:application"),
                *("-c", "python:shopkit.gunicorn_conf", "-b", f"127.0.0.1:{port}"),
            ],
            env={
                "WEB_CONCURRENCY": self.base_env.get("WEB_CONCURRENCY", "1"),
                "PROMETHEUS_MULTIPROC_DIR": str(prom_dir),
            },
            health_url=f"http://127.0.0.1:{port}/health/ready",
            metrics_port=port,
        )

    def _worker(self, name: str, command: str, metrics_port: int) -> Process:
        """A management command (and its arguments) of the service `name` starts with (relay, consumer, expirer),
        /metrics on `metrics_port`."""
        package = DOMAIN_SERVICES[name.split("-")[0]]
        return Process(
            name,
            [PY, str(ROOT / package / "manage.py"), *command.split()],
            env={"METRICS_PORT": str(metrics_port)},
            health_url=f"http://127.0.0.1:{metrics_port}/metrics",
            metrics_port=metrics_port,
        )

    def _monitoring_plan(self) -> list[Process]:
        """Alertmanager and Prometheus (started last, stopped first), or nothing and a notice why."""
        binaries = shop_monitoring.find_binaries(self.base_env.get("PATH"))
        if binaries is None:
            self.monitoring_notice = shop_monitoring.INSTALL_HINT
            return []
        layout = self.monitoring_layout
        log_format = "json" if self.base_env.get("LOG_FORMAT") == "json" else "logfmt"
        return [
            Process(
                "alertmanager",
                shop_monitoring.alertmanager_argv(
                    binaries.alertmanager, layout, log_format=log_format, ports=self.ports
                ),
                health_url=f"http://127.0.0.1:{self.ports.alertmanager}/-/ready",
            ),
            Process(
                "prometheus",
                shop_monitoring.prometheus_argv(binaries.prometheus, layout, log_format=log_format, ports=self.ports),
                health_url=f"http://127.0.0.1:{self.ports.prometheus}/-/ready",
            ),
        ]

    def _prepare_monitoring(self, planned: list[Process]) -> list[Process]:
        """Write the monitoring configuration for `planned`; when its ports are taken (Debian's own
        prometheus service, say), plan without it and say so: the shop itself starts as before."""
        names = {"prometheus", "alertmanager"}
        if not names & {p.name for p in planned}:
            return planned
        ports = [self.ports.prometheus, self.ports.alertmanager]
        if taken := [port for port in ports if not processes.port_free(port)]:
            self.monitoring_notice = (
                f"Prometheus and Alertmanager not started: 127.0.0.1 port {', '.join(map(str, taken))} in use "
                "(Debian's own services? systemctl disable --now prometheus prometheus-alertmanager)."
            )
            return [p for p in planned if p.name not in names]
        shop_monitoring.write_configs(
            self.monitoring_layout,
            {p.name: p.metrics_port for p in planned if p.metrics_port is not None},
            webhook_url=self.base_env.get("SHOP_ALERT_WEBHOOK_URL") or None,
            scrape_interval=self.base_env.get("SHOP_PROMETHEUS_SCRAPE_INTERVAL") or None,
            for_cap=self.base_env.get("SHOP_ALERT_FOR_CAP") or None,
            ports=self.ports,
        )
        return planned

    def _env_for(self, proc: Process) -> dict[str, str]:
        service = proc.name.split("-")[0]
        env = self.service_env(service) if service in DOMAIN_SERVICES else dict(self.base_env)
        env.update(proc.env)
        return {k: v for k, v in env.items() if v != ""}

    def start(self) -> None:
        planned = self.plan()
        # Every port of the shop but monitoring's (taken ones only leave monitoring out: _prepare_monitoring).
        shop_ports = {
            name: port for name, port in self.ports.all().items() if name not in {"prometheus", "alertmanager"}
        }
        if not self.embedded_kafka:
            shop_ports.pop("kafka")
        if taken := {name: port for name, port in shop_ports.items() if not processes.port_free(port)}:
            variables = ", ".join(f"{Ports.variable(name)}={port}" for name, port in taken.items())
            raise RuntimeError(
                f"ports already in use: {sorted(taken.values())} (is another `make run` going? "
                f"Another port for each: set {variables} to free ones)"
            )
        planned = self._prepare_monitoring(planned)
        for proc in planned:
            proc.log_path = self.log_dir / f"{proc.name}.log"
            self._launch(proc)
            self.processes.append(proc)
            if proc.name == "kafka":
                self._wait_for([proc], deadline=time.monotonic() + 20)

    def _launch(self, proc: Process) -> None:
        """Start `proc` (it dies with this process, shopkit.processes.spawn) and copy its output to its log."""
        assert proc.log_path is not None
        log_file = proc.log_path.open("ab")
        proc.popen = processes.spawn(proc.argv, cwd=ROOT, env=self._env_for(proc), stdout=subprocess.PIPE)
        threading.Thread(target=self._pump, args=(proc, log_file), daemon=True).start()

    def _pump(self, proc: Process, log_file: IO[bytes]) -> None:
        assert proc.popen is not None
        assert proc.popen.stdout is not None
        prefix = f"{proc.name:>17} | ".encode()
        for line in iter(proc.popen.stdout.readline, b""):
            log_file.write(line)
            log_file.flush()
            if self.stream:
                with self._lock:
                    sys.stdout.buffer.write(prefix + line)
                    sys.stdout.buffer.flush()
        log_file.close()

    def healthy(self, proc: Process) -> bool:
        if proc.health_url:
            return processes.http_ok(proc.health_url)
        if proc.grpc_health:
            return _grpc_serving(proc.grpc_health, self.grpc_tls_dir)
        if proc.tcp_port:
            return processes.tcp_open(proc.tcp_port)
        return True

    def _wait_for(self, procs: list[Process], *, deadline: float) -> None:
        pending = list(procs)
        while pending:
            for proc in list(pending):
                assert proc.popen is not None
                if proc.popen.poll() is not None:
                    raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}; see {proc.log_path}")
                if self.healthy(proc):
                    pending.remove(proc)
            if pending and time.monotonic() > deadline:
                raise RuntimeError(f"not healthy in time: {[p.name for p in pending]}; see {self.log_dir}")
            if pending:
                time.sleep(0.2)

    def wait_healthy(self, timeout: float = 90.0) -> None:
        self._wait_for(self.processes, deadline=time.monotonic() + timeout)

    def dead(self) -> list[Process]:
        return [p for p in self.processes if p.popen is not None and p.popen.poll() is not None]

    def stop_process(self, name: str) -> Process:
        proc = next(p for p in self.processes if p.name == name)
        self._terminate([proc])
        return proc

    def restart_process(self, name: str) -> None:
        """Start a stopped process again (the outage tests stop and restart dependencies)."""
        self._launch(next(p for p in self.processes if p.name == name))

    def _terminate(self, procs: list[Process], timeout: float = 10.0) -> None:
        processes.stop([proc.popen for proc in procs], grace=timeout)

    def stop(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        # Front doors first, the broker last, so relays and consumers finish their work.
        self._terminate([p for p in reversed(self.processes) if p.name != "kafka"])
        self._terminate([p for p in self.processes if p.name == "kafka"])

    @contextlib.contextmanager
    def running(self, *, timeout: float = 90.0) -> Iterator[Stack]:
        try:
            self.start()
            self.wait_healthy(timeout)
            yield self
        finally:
            self.stop()


def _monitoring_lines(stack: Stack) -> list[str]:
    if stack.monitoring_notice:
        return [f"  {stack.monitoring_notice}"]
    if not any(p.name == "prometheus" for p in stack.processes):
        return []
    return [
        f"  Prometheus        http://127.0.0.1:{stack.ports.prometheus}/",
        f"  Alertmanager      http://127.0.0.1:{stack.ports.alertmanager}/",
    ]


def _banner(ports: Ports, report: list[str], seconds: float, monitoring: list[str] | None = None) -> str:
    gateway = ports.url("gateway")
    lines = [
        "",
        f"Shop is up in {seconds:.1f} s. Ctrl-C stops everything; data stays in var/.",
        "",
        f"  API (gateway)     {gateway}/api/",
        f"  API docs          {gateway}/api/docs",
        f"  OpenAPI           {gateway}/api/openapi.json",
    ]
    for name in DOMAIN_SERVICES:
        lines.append(f"  {name + ' admin':<17} {ports.url(name)}/admin/")
    lines += monitoring or []
    lines += ["", "  Logs: var/log/<process>.log", "", *[f"  {line}" for line in report], ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quiet", action="store_true", help="do not stream process output (it stays in var/log)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    stack = Stack(stream=not args.quiet, monitoring=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        report = stack.prepare()
        stack.start()
        stack.wait_healthy()
        sys.stdout.write(_banner(stack.ports, report, time.monotonic() - started, _monitoring_lines(stack)) + "\n")
        sys.stdout.flush()
        while not stop.is_set():
            if dead := stack.dead():
                sys.stderr.write(f"\n{', '.join(p.name for p in dead)} stopped unexpectedly; stopping the shop.\n")
                return 1
            stop.wait(1.0)
    except KeyboardInterrupt:
        pass
    except RuntimeError as exc:
        sys.stderr.write(f"\n{exc}\n")
        return 1
    finally:
        sys.stdout.write("\nStopping the shop...\n")
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
