"""The locally built images on a real engine: the Shop image from both builders holds no secret, history or
wheelhouse and runs as uid 10001; each stand-in passes the health check compose/docker-compose.yml gives
the real image, with the real configuration files, and serves what the stack asks of it."""

from __future__ import annotations

import json
import re
import secrets
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import yaml

from tools.stack.engine import Engine
from tools.stack.images import STANDINS, build_shop_image, build_standins

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_DIR = ROOT / "compose"
HEALTH_SECONDS = 60
# Builds from cold take minutes (the first test of a fresh engine pays for them).
pytestmark = pytest.mark.timeout(1200)

# Run as root inside the image: every file it holds, its name, and whether a planted marker is in it.
SCAN = r"""
import json, os, sys
marker = sys.argv[1].encode()
root_dev = os.stat("/").st_dev
SKIP = ("/proc", "/sys", "/dev")
NAMES = (".env", ".git", "wheelhouse", "secrets", ".venv")
names, hits, private = [], [], []
for top, dirs, files in os.walk("/"):
    keep = [os.path.join(top, d) for d in dirs]
    dirs[:] = [os.path.basename(p) for p in keep if os.lstat(p).st_dev == root_dev and p not in SKIP]
    for name in dirs + files:
        path = os.path.join(top, name)
        if name in NAMES or name.startswith(".env.") or name.endswith((".pem", ".key", ".whl")):
            names.append(path)
    for name in files:
        path = os.path.join(top, name)
        try:
            if os.path.islink(path) or os.path.getsize(path) > 1 << 20:
                continue
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError:
            continue
        if marker in data:
            hits.append(path)
        if name.endswith(".pem") and b"PRIVATE KEY" in data:
            private.append(path)
print(json.dumps({"names": names, "hits": hits, "private": private}))
"""
# What a Python base image carries of those names: public CA bundles (no key in any: checked too) and
# ensurepip's own pip and setuptools wheels (Debian's python3-venv, or python:3.11-slim's).
PUBLIC_PEM_PLACES = ("/etc/ssl/certs/", "/usr/share/ca-certificates/", "/usr/lib/ssl/", "/opt/venv/lib/python3")
ENSUREPIP_WHEEL_PLACES = ("/usr/share/python-wheels/", "/usr/local/lib/python3.11/ensurepip/_bundled/")


def _unexpected(path: str) -> bool:
    if path.endswith(".pem"):
        return not path.startswith(PUBLIC_PEM_PLACES)
    if path.endswith(".whl"):
        return not path.startswith(ENSUREPIP_WHEEL_PLACES)
    return True


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((COMPOSE_DIR / "docker-compose.yml").read_text())
    return data


def _service(name: str) -> dict[str, Any]:
    service: dict[str, Any] = _compose()["services"][name]
    return service


def _unescape(value: str) -> str:
    """A compose string as the container gets it: `$$` is a literal `$`."""
    return value.replace("$$", "$")


def _health_argv(service: str) -> list[str]:
    """The compose health check of `service` as a `docker exec` command line."""
    test = _service(service)["healthcheck"]["test"]
    kind, *rest = test
    if kind == "CMD-SHELL":
        return ["sh", "-c", _unescape(rest[0])]
    assert kind == "CMD", test
    return [_unescape(part) for part in rest]


# -- the Shop image ------------------------------------------------------------------------------------
@pytest.fixture
def planted_secrets() -> Iterator[str]:
    """compose/.env and compose/secrets/x.pem, if absent, holding a marker no image may contain."""
    marker = f"planted-secret-{uuid.uuid4().hex}"
    secrets_dir = COMPOSE_DIR / "secrets"
    made_dir = not secrets_dir.exists()
    secrets_dir.mkdir(exist_ok=True)
    created = []
    for path in (COMPOSE_DIR / ".env", secrets_dir / "x.pem"):
        if not path.exists():
            # A made-up key: only the marker matters.
            key = f"-----BEGIN PRIVATE KEY-----\n{marker}\n-----END PRIVATE KEY-----\n"  # pragma: allowlist secret
            path.write_text(key)
            created.append(path)
    try:
        yield marker
    finally:
        for path in created:
            path.unlink(missing_ok=True)
        if made_dir:
            secrets_dir.rmdir()


@pytest.mark.parametrize("builder", ["legacy", "buildkit"])
def test_shop_image_holds_no_secret_history_or_wheelhouse(engine: Engine, planted_secrets: str, builder: str) -> None:
    # given: the image built from the real tree, with a secret env file and key planted in it
    tag = "shop:local" if builder == "buildkit" else "shop:local-legacy"
    seconds = build_shop_image(engine, builder=builder, tag=tag)  # type: ignore[arg-type]
    sys.stdout.write(f"\nshop image ({builder}): built in {seconds:.1f} s\n")

    # when: every file of the runtime image is looked at
    scan = engine.docker(
        "run", "--rm", "--network", "none", "--user", "0", "--entrypoint", "python3", tag, "-c", SCAN, planted_secrets
    )
    found = json.loads(scan.stdout)

    # then: no env file, key, git history, secrets directory, virtualenv of the host or wheel of the
    # wheelhouse; the only .pem files are public CA bundles; the planted secret is nowhere
    assert found["hits"] == []
    assert found["private"] == []
    assert [path for path in found["names"] if _unexpected(path)] == []
    paths = engine.docker("run", "--rm", "--network", "none", tag, "ls", "-a", "/app", "/opt").stdout.split()
    assert "var" not in paths
    assert "protoc" not in paths
    assert "venv" in paths


@pytest.mark.parametrize("builder", ["legacy", "buildkit"])
def test_shop_image_imports_shopkit_and_the_stubs_as_uid_10001(engine: Engine, builder: str) -> None:
    # given
    tag = "shop:local" if builder == "buildkit" else "shop:local-legacy"
    build_shop_image(engine, builder=builder, tag=tag)  # type: ignore[arg-type]

    # when: the default user, with no network
    imported = engine.docker(
        "run", "--rm", "--network", "none", tag,
        "python", "-c", "import os, shopkit, shop.product.v1.product_pb2_grpc; print(os.getuid(), os.getgid())",
    )  # fmt: skip
    build_tools = engine.docker(
        "run", "--rm", "--network", "none", tag, "python", "-c", "import grpc_tools", check=False
    )

    # then: the stubs generated in the build stage are there, the stub generator is not
    assert imported.stdout.split() == ["10001", "10001"]
    assert build_tools.returncode != 0
    assert "No module named 'grpc_tools'" in build_tools.stderr


# -- stand-ins -----------------------------------------------------------------------------------------
class Containers:
    """Containers and one network a test starts, all removed at its end."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.network = f"standin-test-{uuid.uuid4().hex[:8]}"
        self.names: list[str] = []
        engine.docker("network", "create", self.network)

    def run(self, name: str, image: str, *args: str, options: tuple[str, ...] = ()) -> str:
        container = f"{self.network}-{name}"
        self.names.append(container)
        self.engine.docker(
            "run", "--detach", "--name", container, "--network", self.network, "--network-alias", name,
            *options, image, *args,
        )  # fmt: skip
        return container

    def once(self, image: str, *args: str, options: tuple[str, ...] = ()) -> Any:
        return self.engine.docker("run", "--rm", "--network", self.network, *options, image, *args, check=False)

    def healthy(self, container: str, argv: list[str]) -> float:
        """Seconds until `docker exec container argv` succeeds; fails with its output and the logs after
        HEALTH_SECONDS."""
        started = time.monotonic()
        while True:
            probe = self.engine.docker("exec", container, *argv, check=False)
            if probe.returncode == 0:
                return time.monotonic() - started
            if time.monotonic() - started > HEALTH_SECONDS:
                logs = self.engine.docker("logs", "--tail", "30", container, check=False)
                raise AssertionError(f"{container}: {argv} failed: {probe.stderr}\n{logs.stdout}{logs.stderr}")
            time.sleep(0.25)

    def remove(self) -> None:
        if self.names:
            self.engine.docker("rm", "--force", "--volumes", *self.names, check=False)
        self.engine.docker("network", "rm", self.network, check=False)


@pytest.fixture(scope="module")
def standins(engine: Engine) -> None:
    build_standins(engine)


@pytest.fixture
def containers(engine: Engine, standins: None) -> Iterator[Containers]:
    running = Containers(engine)
    try:
        yield running
    finally:
        running.remove()


def _secret_file(directory: Path, name: str, value: str) -> str:
    path = directory / name
    path.write_text(value)
    path.chmod(0o644)
    return f"{path}:/run/secrets/{name}:ro"


def test_postgres_initializes_its_database_and_asks_network_clients_for_the_password(containers: Containers) -> None:
    # given: the users database as compose runs it
    environment = dict(_service("users-db")["environment"])
    environment["POSTGRES_PASSWORD"] = secrets.token_hex(16)
    env = [f"--env={k}={v}" for k, v in environment.items()]
    database = containers.run("users-db", "shop-standin/postgres:local", options=(*env, "--shm-size=128m"))

    # when
    seconds = containers.healthy(database, _health_argv("users-db"))
    image = "shop-standin/postgres:local"
    query = ["psql", "-h", "users-db", "-U", "users", "-d", "users", "-Atc", "select current_user, current_database()"]
    right = containers.once(image, *query, options=(f"--env=PGPASSWORD={environment['POSTGRES_PASSWORD']}",))
    wrong = containers.once(image, *query, options=("--env=PGPASSWORD=not-the-password",))
    user = containers.engine.docker("exec", database, "id", "-un").stdout.strip()

    # then
    sys.stdout.write(f"\npostgres stand-in: healthy in {seconds:.1f} s\n")
    assert right.stdout.strip() == "users|users", right.stderr
    assert wrong.returncode != 0
    assert 'password authentication failed for user "users"' in wrong.stderr
    assert user == "postgres"


def test_redis_runs_compose_command_and_wants_its_password(containers: Containers) -> None:
    # given
    service = _service("redis")
    password = secrets.token_hex(16)
    env = ("--env", f"REDIS_PASSWORD={password}", "--env", f"REDISCLI_AUTH={password}")
    redis = containers.run("redis", "shop-standin/redis:local", *map(_unescape, service["command"]), options=env)

    # when
    seconds = containers.healthy(redis, _health_argv("redis"))
    anonymous = containers.once("shop-standin/redis:local", "redis-cli", "-h", "redis", "ping")

    # then
    sys.stdout.write(f"\nredis stand-in: healthy in {seconds:.1f} s\n")
    assert "NOAUTH" in anonymous.stdout + anonymous.stderr
    assert containers.engine.docker("exec", redis, "pwd").stdout.strip() == "/data"


def _metrics(containers: Containers, url: str) -> list[str]:
    """The exposition at `url` on the test network, fetched with the postgres exporter stand-in's wget."""
    fetched = containers.once(
        "shop-standin/postgres-exporter:local", "-q", "-O", "-", url, options=("--entrypoint", "wget")
    )
    assert fetched.returncode == 0, fetched.stderr
    return list(fetched.stdout.splitlines())


def test_postgres_exporter_signs_in_with_compose_settings_and_the_password_file(
    containers: Containers, tmp_path: Path
) -> None:
    # given: the users database and its exporter as compose runs them, the password as a secret file
    database_env = dict(_service("users-db")["environment"])
    database_env["POSTGRES_PASSWORD"] = secrets.token_hex(16)
    env = [f"--env={k}={v}" for k, v in database_env.items()]
    database = containers.run("users-db", "shop-standin/postgres:local", options=(*env, "--shm-size=128m"))
    containers.healthy(database, _health_argv("users-db"))
    exporter_env = [f"--env={k}={v}" for k, v in _service("users-db-exporter")["environment"].items()]
    right = _secret_file(tmp_path, "users_db_password", database_env["POSTGRES_PASSWORD"])
    (tmp_path / "wrong").mkdir()
    wrong = _secret_file(tmp_path / "wrong", "users_db_password", "not-the-password")

    # when
    exporter = containers.run(
        "users-db-exporter", "shop-standin/postgres-exporter:local", options=(*exporter_env, "--volume", right)
    )
    refused = containers.run(
        "refused-exporter", "shop-standin/postgres-exporter:local", options=(*exporter_env, "--volume", wrong)
    )
    seconds = containers.healthy(exporter, _health_argv("users-db-exporter"))
    containers.healthy(refused, _health_argv("users-db-exporter"))

    # then: the right password reaches the database, with the metrics the dashboards use; the wrong one not
    sys.stdout.write(f"\npostgres-exporter stand-in: healthy in {seconds:.1f} s\n")
    lines = _metrics(containers, "http://users-db-exporter:9187/metrics")
    assert "pg_up 1" in lines
    assert any(line.startswith('pg_stat_database_xact_commit{datid="') and 'datname="users"' in line for line in lines)
    assert "pg_up 0" in _metrics(containers, "http://refused-exporter:9187/metrics")
    assert containers.engine.docker("exec", exporter, "id", "-un").stdout.strip() == "nobody"


def test_redis_exporter_reaches_redis_with_compose_settings(containers: Containers) -> None:
    # given: Redis and its exporter as compose runs them
    service = _service("redis")
    password = secrets.token_hex(16)
    env = ("--env", f"REDIS_PASSWORD={password}", "--env", f"REDISCLI_AUTH={password}")
    redis = containers.run("redis", "shop-standin/redis:local", *map(_unescape, service["command"]), options=env)
    containers.healthy(redis, _health_argv("redis"))
    exporter_env = {**_service("redis-exporter")["environment"], "REDIS_PASSWORD": password}

    # when
    containers.run(
        "redis-exporter",
        "shop-standin/redis-exporter:local",
        options=tuple(f"--env={k}={v}" for k, v in exporter_env.items()),
    )
    deadline = time.monotonic() + HEALTH_SECONDS
    while (fetched := containers.once(
        "shop-standin/postgres-exporter:local", "-q", "-O", "-", "http://redis-exporter:9121/metrics",
        options=("--entrypoint", "wget"),
    )).returncode != 0:  # fmt: skip
        assert time.monotonic() < deadline, fetched.stderr
        time.sleep(0.25)

    # then: compose's maxmemory is what the memory panel and RedisMemoryNearLimit read
    lines = fetched.stdout.splitlines()
    assert "redis_up 1" in lines
    assert "redis_memory_max_bytes 1.34217728e+08" in lines


def test_caddy_serves_the_real_caddyfile(containers: Containers) -> None:
    # given
    caddyfile = f"{COMPOSE_DIR / 'caddy' / 'Caddyfile'}:/etc/caddy/Caddyfile:ro"
    caddy = containers.run("caddy", "shop-standin/caddy:local", options=("--volume", caddyfile))

    # when
    seconds = containers.healthy(caddy, _health_argv("caddy"))
    config = json.loads(
        containers.engine.docker("exec", caddy, "wget", "-q", "-O", "-", "http://127.0.0.1:2019/config/").stdout
    )

    # then: the Caddyfile's sites are loaded (443 and the four admin ports)
    sys.stdout.write(f"\ncaddy stand-in: healthy in {seconds:.1f} s\n")
    listens = sorted(address for server in config["apps"]["http"]["servers"].values() for address in server["listen"])
    assert listens == [":443", ":5000", ":5001", ":5002", ":5003"]


def _web_config(directory: Path, user: str, password: str) -> str:
    digest = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    path = directory / f"{user}-web.yml"
    path.write_text(f"basic_auth_users:\n  {user}: '{digest}'\n")
    path.chmod(0o644)
    return str(path)


def test_prometheus_runs_compose_flags_and_health_check(containers: Containers, tmp_path: Path) -> None:
    # given: Prometheus as compose starts it, its web config asking for basic auth
    password = secrets.token_hex(16)
    web = _web_config(tmp_path, "prometheus", password)
    options = (
        "--volume", f"{COMPOSE_DIR / 'prometheus'}:/etc/prometheus:ro",
        "--volume", f"{web}:/etc/prometheus-web/web.yml:ro",
        "--volume", _secret_file(tmp_path, "prometheus_password", password),
        "--volume", _secret_file(tmp_path, "alertmanager_password", secrets.token_hex(16)),
    )  # fmt: skip
    prometheus = containers.run(
        "prometheus", "shop-standin/prometheus:local", *_service("prometheus")["command"], options=options
    )

    # when
    seconds = containers.healthy(prometheus, _health_argv("prometheus"))
    anonymous = containers.engine.docker(
        "exec", prometheus, "promtool", "check", "ready", "--url=http://127.0.0.1:9090", check=False
    )

    # then
    sys.stdout.write(f"\nprometheus stand-in: healthy in {seconds:.1f} s\n")
    assert anonymous.returncode != 0
    assert containers.engine.docker("exec", prometheus, "id", "-un").stdout.strip() == "nobody"


def test_alertmanager_runs_compose_flags_and_health_check(containers: Containers, tmp_path: Path) -> None:
    # given: Alertmanager as compose starts it; its routes read the webhook URL from a file (url_file)
    password = secrets.token_hex(16)
    web = _web_config(tmp_path, "alertmanager", password)
    options = (
        "--volume", f"{COMPOSE_DIR / 'alertmanager'}:/etc/alertmanager:ro",
        "--volume", f"{web}:/etc/alertmanager-web/web.yml:ro",
        "--volume", _secret_file(tmp_path, "alertmanager_password", password),
        "--volume", _secret_file(tmp_path, "alertmanager_webhook_url", "http://127.0.0.1:9/alerts"),
    )  # fmt: skip
    image = "shop-standin/alertmanager:local"
    alertmanager = containers.run("alertmanager", image, *_service("alertmanager")["command"], options=options)

    # when
    seconds = containers.healthy(alertmanager, _health_argv("alertmanager"))
    shown = containers.engine.docker("exec", alertmanager, *_health_argv("alertmanager"))

    # then: the loaded configuration is the real one
    sys.stdout.write(f"\nalertmanager stand-in: healthy in {seconds:.1f} s\n")
    assert "url_file: /run/secrets/alertmanager_webhook_url" in shown.stdout


def test_kafka_answers_its_health_check_and_kafka_init_runs_to_the_end(containers: Containers, tmp_path: Path) -> None:
    # given: Tansu as the stack override starts it, then kafka-init's own script with its secrets and files
    kafka = containers.run("kafka", "shop-standin/kafka:local")
    seconds = containers.healthy(kafka, _health_argv("kafka"))
    init = _service("kafka-init")
    mounts = [f"{COMPOSE_DIR / 'kafka'}:/etc/shop-kafka:ro"]
    mounts += [_secret_file(tmp_path, name, secrets.token_hex(16)) for name in init["secrets"]]
    options = ("--entrypoint", init["entrypoint"][0], *(f"--volume={m}" for m in mounts))

    # when
    run = containers.once(
        "shop-standin/kafka:local", *init["entrypoint"][1:], *map(_unescape, init["command"]), options=options
    )

    # then: every principal, topic and ACL step passed; the topics exist
    sys.stdout.write(f"\nkafka stand-in: healthy in {seconds:.1f} s\n")
    assert run.returncode == 0, run.stdout + run.stderr
    listed = [line for line in run.stdout.splitlines() if line.startswith("shop.")]
    assert listed == ["shop.orders", "shop.orders.dlq", "shop.users", "shop.users.dlq"]


def test_every_stand_in_the_override_names_is_one_built_here() -> None:
    override = (ROOT / "tests" / "stack" / "docker-compose.stack.yml").read_text()
    used = set(re.findall(r"^\s+image:\s*(\S+)", override, re.MULTILINE))

    assert used
    assert used <= {standin.image for standin in STANDINS}
