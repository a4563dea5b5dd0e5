"""`python -m product_svc.grpc_server` as a process: mutual TLS, health, metrics, reflection, graceful stop."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest
from django.db import connection
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from product_svc.catalog.servicer import SERVICE_NAME
from shopkit.grpc.tls import TlsFiles, channel_credentials
from shopkit.testing.grpc_tls import GrpcTestPki
from shopkit.testing.kafka import free_port

ROOT = Path(__file__).resolve().parents[2]
START_DEADLINE_SECONDS = 20


def _channel(port: int, tls: TlsFiles) -> grpc.Channel:
    return grpc.secure_channel(f"127.0.0.1:{port}", channel_credentials(tls))


def _serving(port: int, tls: TlsFiles) -> bool:
    with _channel(port, tls) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=SERVICE_NAME), timeout=0.5
            )
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


@contextmanager
def _server_process(
    grpc_pki: GrpcTestPki, *, grpc_port: int, metrics_port: int, extra_env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """The server process with products' test certificate, healthy (checked as carts) when this yields."""
    own = grpc_pki.identity("products")
    db = connection.settings_dict
    env = {
        **os.environ,  # noqa: TID251 - the child process inherits the test environment
        "PYTHONPATH": str(ROOT),
        "PRODUCTS_GRPC_PORT": str(grpc_port),
        "METRICS_PORT": str(metrics_port),
        "OTEL_EXPORTER_OTLP_ENDPOINT": "",
        "GRPC_TLS_CA_FILE": str(own.ca),
        "GRPC_TLS_CERT_FILE": str(own.cert),
        "GRPC_TLS_KEY_FILE": str(own.key),
        **(extra_env or {}),
    }
    if connection.vendor == "postgresql":
        env["DATABASE_URL"] = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    process = subprocess.Popen(
        [sys.executable, "-m", "product_svc.grpc_server"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + START_DEADLINE_SECONDS
        while not _serving(grpc_port, grpc_pki.identity("carts")):
            assert process.poll() is None, process.stderr.read() if process.stderr else b""
            assert time.monotonic() < deadline, "the gRPC server did not become healthy"
            time.sleep(0.1)
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)


def _listed_services(port: int, tls: TlsFiles) -> list[str]:
    with _channel(port, tls) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=2)
        return sorted(service.name for reply in replies for service in reply.list_services_response.service)


def test_the_server_process_serves_health_and_metrics_and_stops_on_sigterm(
    transactional_db: None, grpc_pki: GrpcTestPki
) -> None:
    # given
    grpc_port, metrics_port = free_port(), free_port()
    with _server_process(grpc_pki, grpc_port=grpc_port, metrics_port=metrics_port) as process:
        # when
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=2) as response:
            metrics = response.read().decode()
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=15)

    # then
    assert "shop_grpc_server_handled_total" in metrics
    assert code == 0


def test_the_server_process_lists_its_methods_by_reflection_outside_production(
    transactional_db: None, grpc_pki: GrpcTestPki
) -> None:
    # given
    grpc_port = free_port()
    with _server_process(grpc_pki, grpc_port=grpc_port, metrics_port=0):
        # when
        listed = _listed_services(grpc_port, grpc_pki.identity("carts"))

    # then
    assert listed == ["grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection", SERVICE_NAME]


def test_the_server_process_serves_no_reflection_in_production(transactional_db: None, grpc_pki: GrpcTestPki) -> None:
    # given
    grpc_port = free_port()
    production = {"SHOP_ENV": "production", "DJANGO_SECRET_KEY": secrets.token_urlsafe(48)}
    with _server_process(grpc_pki, grpc_port=grpc_port, metrics_port=0, extra_env=production):
        # when
        with pytest.raises(grpc.RpcError) as raised:
            _listed_services(grpc_port, grpc_pki.identity("carts"))

    # then
    assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_the_server_process_refuses_to_start_without_its_certificate(
    transactional_db: None, grpc_pki: GrpcTestPki, tmp_path: Path
) -> None:
    # given
    env = {
        **os.environ,  # noqa: TID251 - the child process inherits the test environment
        "PYTHONPATH": str(ROOT),
        "PRODUCTS_GRPC_PORT": str(free_port()),
        "METRICS_PORT": "0",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "",
        "GRPC_TLS_CA_FILE": str(grpc_pki.identity("products").ca),
        "GRPC_TLS_CERT_FILE": str(tmp_path / "missing.crt"),
        "GRPC_TLS_KEY_FILE": str(tmp_path / "missing.key"),
    }

    # when
    result = subprocess.run(
        [sys.executable, "-m", "product_svc.grpc_server"], cwd=ROOT, env=env, capture_output=True, timeout=60
    )

    # then
    assert result.returncode != 0
    assert f"GRPC_TLS_CERT_FILE: cannot read {tmp_path / 'missing.crt'}" in result.stderr.decode()
