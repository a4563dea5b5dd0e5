"""`python -m product_svc.grpc_server` as a process: health, metrics endpoint, graceful stop on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import grpc
from django.db import connection
from grpc_health.v1 import health_pb2, health_pb2_grpc

from product_svc.catalog.servicer import SERVICE_NAME
from shopkit.testing.kafka import free_port

ROOT = Path(__file__).resolve().parents[2]
START_DEADLINE_SECONDS = 20


def _serving(port: int) -> bool:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=SERVICE_NAME), timeout=0.5
            )
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def test_the_server_process_serves_health_and_metrics_and_stops_on_sigterm(transactional_db: None) -> None:
    # given
    grpc_port, metrics_port = free_port(), free_port()
    db = connection.settings_dict
    env = {
        **os.environ,  # noqa: TID251 - the child process inherits the test environment
        "PYTHONPATH": str(ROOT),
        "PRODUCTS_GRPC_PORT": str(grpc_port),
        "METRICS_PORT": str(metrics_port),
        "OTEL_EXPORTER_OTLP_ENDPOINT": "",
    }
    if connection.vendor == "postgresql":
        env["DATABASE_URL"] = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "product_svc.grpc_server"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        # when
        deadline = time.monotonic() + START_DEADLINE_SECONDS
        while not _serving(grpc_port):
            assert process.poll() is None, process.stderr.read() if process.stderr else b""
            assert time.monotonic() < deadline, "the gRPC server did not become healthy"
            time.sleep(0.1)
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=2) as response:  # noqa: S310
            metrics = response.read().decode()
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)

    # then
    assert "shop_grpc_server_handled_total" in metrics
    assert code == 0
