"""`make test-stack`: the real compose stack on a private Docker engine, started once for the module.

The engine and images fixtures come first (brief C); the stack fixture after them starts
compose/docker-compose.yml plus tests/stack/docker-compose.stack.yml (every difference written there)
with a throw-away env file and secrets, and takes everything down at the end, whatever happened.
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Iterator

import pytest

from tests.stack.support import (
    COMPOSE_FILE,
    HOST_ON_SHOP_NETWORK,
    PROJECT,
    Stack,
    WebhookReceiver,
    prometheus_config,
)
from tools.stack.engine import Engine
from tools.stack.images import build_shop_image, build_standins
from tools.stack.prepare import prepare

# --- engine and images (brief C) ------------------------------------------------------------------


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    """SHOP_DOCKER_HOST's (or DOCKER_HOST's) engine, never stopped; else a private dockerd, stopped at the end
    with whatever it left on the host (tools/stack/engine.py)."""
    with Engine() as running:
        kind = "private" if running.owned else "existing"
        sys.stdout.write(f"\nengine: {kind} {running.host}, up in {running.start_seconds:.1f} s\n")
        yield running
    sys.stdout.write(f"engine: stopped in {running.stop_seconds:.1f} s\n")


@pytest.fixture(scope="session")
def images(engine: Engine) -> None:
    """shop:local (BuildKit, as compose builds) and every stand-in; each image only when missing or changed."""
    started = time.monotonic()
    build_shop_image(engine)
    build_standins(engine)
    sys.stdout.write(f"images: ready in {time.monotonic() - started:.1f} s\n")


# --- the stack ------------------------------------------------------------------------------------
UP_TIMEOUT_SECONDS = 600


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _report(stack: Stack) -> None:
    """What an operator would look at first when the stack does not come up: states, then unhealthy logs."""
    result = stack.compose("ps", "--all", check=False)
    sys.stderr.write(f"\n--- docker compose ps\n{result.stdout}{result.stderr}")
    for container in stack.containers():
        bad = container.get("Health") not in ("", "healthy") or (
            container["State"] == "exited" and container.get("ExitCode") != 0
        )
        if bad:
            logs = stack.compose("logs", "--no-color", "--tail", "40", container["Service"], check=False)
            sys.stderr.write(f"\n--- {container['Service']} ({container['State']} {container.get('Health')})\n")
            sys.stderr.write(logs.stdout[-6000:] + logs.stderr[-2000:])


@pytest.fixture(scope="session")
def stack(engine: Engine, images: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("stack")
    webhook_port = _free_port()
    prepared = prepare(
        workdir / ".env",
        workdir / "secrets",
        {
            "SHOP_SECRETS_DIR": str(workdir / "secrets"),
            "ALERTMANAGER_WEBHOOK_URL": f"http://{HOST_ON_SHOP_NETWORK}:{webhook_port}/alerts",
        },
    )
    prometheus_config(COMPOSE_FILE.parent / "prometheus" / "prometheus.yml", workdir / "prometheus.yml")
    stack = Stack(engine=engine, workdir=workdir, env_file=prepared.env_path, values=prepared.env)
    started = time.monotonic()
    try:
        # Leftovers of an interrupted run on a kept engine go first.
        stack.compose("down", "--volumes", "--remove-orphans", "--timeout", "5", timeout=180, check=False)
        up = stack.compose(
            "up",
            "--detach",
            "--wait",
            "--wait-timeout",
            str(UP_TIMEOUT_SECONDS),
            timeout=UP_TIMEOUT_SECONDS + 60,
            check=False,
        )
        if up.returncode != 0:
            _report(stack)
            pytest.fail(f"the stack did not come up healthy:\n{up.stdout[-4000:]}\n{up.stderr[-4000:]}")
        sys.stdout.write(f"\nstack: up and healthy in {time.monotonic() - started:.1f} s\n")
        stack.receiver = WebhookReceiver(HOST_ON_SHOP_NETWORK, webhook_port)
        yield stack
    finally:
        if stack.receiver is not None:
            stack.receiver.stop()
        down_started = time.monotonic()
        stack.compose("down", "--volumes", "--remove-orphans", "--timeout", "10", timeout=300, check=False)
        sys.stdout.write(f"stack: down in {time.monotonic() - down_started:.1f} s\n")
        left = _leftovers(engine)
        assert left == {}, f"docker compose down left these behind: {left}"


def _leftovers(engine: Engine) -> dict[str, list[str]]:
    """The project's containers, volumes and networks still on the engine (the engine's own are not)."""
    label = f"label=com.docker.compose.project={PROJECT}"
    found = {
        kind: engine.docker(
            *command, "--filter", label, "--format", "{{.Name}}" if kind != "containers" else "{{.Names}}"
        ).stdout.split()
        for kind, command in (
            ("containers", ("ps", "--all")),
            ("volumes", ("volume", "ls")),
            ("networks", ("network", "ls")),
        )
    }
    return {kind: names for kind, names in found.items() if names}
