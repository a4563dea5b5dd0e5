"""The Shop image's build, checked without a Docker engine: the context filter, an offline Dockerfile, the
wheelhouse's contents, the private engine's paths and the Kafka stand-in's scripts (with a real Tansu).

tests/stack/test_images_build.py builds the image with both builders and searches it; this module runs
everywhere the infra suite does.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.infra.support import COMPOSE_DIR, ROOT, load_compose
from tools.stack import images
from tools.stack.engine import SOCKET_PATH_LIMIT, Engine

DOCKERFILE = COMPOSE_DIR / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
KAFKA_BIN = ROOT / "tests" / "stack" / "standins" / "kafka" / "bin"


# -- .dockerignore, with Docker's matching rules ----------------------------------------------------
def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as Docker matches it (moby/patternmatcher): Go filepath.Match per path
    segment (`*` and `?` never cross `/`), `**` any number of segments, anchored at the context root."""
    regex, i = "", 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            regex, i = regex + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            regex, i = regex + ".*", i + 2
        elif char == "*":
            regex, i = regex + "[^/]*", i + 1
        elif char == "?":
            regex, i = regex + "[^/]", i + 1
        elif char == "[":
            end = pattern.index("]", i)
            regex, i = regex + "[" + pattern[i + 1 : end].replace("!", "^", 1) + "]", end + 1
        else:
            regex, i = regex + re.escape(char), i + 1
    return re.compile(f"^{regex}$")


def _ignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for raw in DOCKERIGNORE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        include = line.startswith("!")
        pattern = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        rules.append((include, _pattern_regex(pattern)))
    return rules


def excluded(path: str) -> bool:
    """Whether the build context leaves `path` out: the last pattern matching it or a parent decides."""
    parents = [str(Path(*Path(path).parts[: n + 1])) for n in range(len(Path(path).parts))]
    verdict = False
    for include, regex in _ignore_rules():
        if any(regex.match(candidate) for candidate in parents):
            verdict = not include
    return verdict


def test_the_matcher_follows_dockers_rules() -> None:
    # then: unanchored patterns match at the root only, `**/` anywhere, `*` within one segment
    assert _pattern_regex("var").match("var")
    assert not _pattern_regex("var").match("tests/var")
    assert _pattern_regex("**/var").match("tests/e2e/var")
    assert _pattern_regex("**/var").match("var")
    assert not _pattern_regex("*.pem").match("compose/x.pem")
    assert _pattern_regex("**/*.pem").match("compose/secrets/x.pem")


@pytest.mark.parametrize(
    "path",
    [
        ".git/config",
        ".git",
        "shopkit/.git",
        "compose/.env",
        "compose/.env.production",
        "user_svc/.env",
        "compose/secrets/jwt_private.pem",
        "compose/secrets/jwt_previous_public.pem",
        "compose/secrets/grpc/ca.key",
        "compose/secrets/grpc/products.crt",
        "somewhere/deep/server.pem",
        "tools/signing.key",
        "keystore.p12",
        "var/users.sqlite3",
        "var/stack/docker/data/overlay2/x",
        "var/wheelhouse.partial/grpcio.whl",
        "tests/e2e/var/run.log",
        "user_svc/var/media/x",
        ".venv/bin/python",
        "user_svc/__pycache__/settings.cpython-311.pyc",
        ".mypy_cache/3.11/x.json",
        ".ruff_cache/x",
        ".pytest_cache/v/cache",
        "shopkit/src/shopkit.egg-info/PKG-INFO",
        "shopkit/src/shop/product/v1/product_pb2.py",
    ],
)
def test_the_build_context_leaves_out_secrets_history_and_local_state(path: str) -> None:
    assert excluded(path), path


@pytest.mark.parametrize(
    "path",
    [
        "var/wheelhouse/grpcio-1.85.3-cp311-cp311-manylinux_2_17_x86_64.whl",
        "var/wheelhouse/.stamp",
        "requirements/base.txt",
        "requirements/dev.txt",
        "shopkit/pyproject.toml",
        "shopkit/src/shopkit/__init__.py",
        "proto/shop/product/v1/product.proto",
        "tools/gen_proto.py",
        "tools/docker_socket_proxy.py",
        "user_svc/manage.py",
        "product_svc/grpc_server.py",
        "gateway_svc/asgi.py",
        "compose/healthcheck.py",
    ],
)
def test_the_build_context_keeps_what_the_image_runs(path: str) -> None:
    assert not excluded(path), path


def test_one_context_filter_for_every_builder() -> None:
    # BuildKit prefers <Dockerfile>.dockerignore; the legacy builder reads only the root one.
    assert not (COMPOSE_DIR / "Dockerfile.dockerignore").exists()
    assert DOCKERIGNORE.is_file()


# -- the Dockerfile builds offline ------------------------------------------------------------------
def _instructions() -> list[tuple[str, str, str]]:
    """(stage, instruction, arguments) with continuation lines joined; comments dropped."""
    joined, buffer = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        if raw.lstrip().startswith("#") and not buffer:
            continue
        buffer += raw.rstrip("\\").strip() + " "
        if not raw.endswith("\\"):
            joined.append(buffer.strip())
            buffer = ""
    found, stage = [], ""
    for line in filter(None, joined):
        instruction, _, arguments = line.partition(" ")
        if instruction.upper() == "FROM":
            stage = arguments.split()[-1]
        found.append((stage, instruction.upper(), arguments))
    return found


def test_dockerfile_has_no_syntax_directive() -> None:
    # A `# syntax=` line makes BuildKit pull its frontend image from a registry.
    assert not re.search(r"^#\s*syntax\s*=", DOCKERFILE.read_text(), re.MULTILINE | re.IGNORECASE)


def test_dockerfile_installs_only_from_the_wheelhouse() -> None:
    runs = [arguments for _, instruction, arguments in _instructions() if instruction == "RUN"]
    installs = [part for run in runs for part in run.split("&&") if "pip install" in part]

    assert len(installs) == 3
    for install in installs:
        assert "--no-index" in install, install
        assert "--find-links /wheelhouse" in install, install
    for run in runs:
        assert not re.search(r"\b(apt-get|apt|apk|curl|wget|git|pip download)\b", run), run


def test_wheelhouse_reaches_the_build_stage_only() -> None:
    steps = _instructions()
    copies = [(stage, arguments) for stage, instruction, arguments in steps if instruction == "COPY"]

    assert ("build", "var/wheelhouse /wheelhouse") in copies
    runtime = [arguments for stage, arguments in copies if stage == "runtime"]
    assert runtime
    assert all(arguments.startswith("--from=build") for arguments in runtime), runtime
    assert any("rm -rf /src/var" in arguments for stage, instruction, arguments in steps if instruction == "RUN")


def test_runtime_stage_keeps_the_non_root_user_and_no_build_tools() -> None:
    runtime = [(instruction, arguments) for stage, instruction, arguments in _instructions() if stage == "runtime"]

    assert ("USER", "shop:shop") in runtime
    assert any("--uid 10001" in arguments for instruction, arguments in runtime if instruction == "RUN")
    assert not any("/opt/protoc" in arguments for _, arguments in runtime)


def test_dockerfile_runs_the_bases_python3_and_gives_compose_python() -> None:
    steps = _instructions()

    assert ("build", "RUN", "python3 -m venv /opt/venv") in steps
    assert any(
        stage == "runtime" and instruction == "ENV" and arguments.startswith("PATH=/opt/venv/bin:")
        for stage, instruction, arguments in steps
    )
    assert ("", "ARG", "PYTHON_IMAGE=python:3.11-slim") in steps


def test_the_stub_generators_pins_are_the_ones_the_dockerfile_installs() -> None:
    # given: the Dockerfile greps requirements/dev.txt for the stub generator's pins
    grep = re.search(r"grep -E '(\^\([^']+\)==)'", DOCKERFILE.read_text())
    assert grep is not None

    # when
    wanted = images.wheel_requirements()

    # then: the wheelhouse holds the same pins, and shopkit's build backend for its editable install
    assert grep.group(1) == images.STUB_TOOLS_PATTERN.pattern
    assert sorted(line.split("==")[0] for line in wanted if "==" in line) == sorted(images.STUB_TOOLS)
    assert any(line.startswith("setuptools") for line in wanted)


def test_wheel_platforms_stop_at_the_images_glibc() -> None:
    platforms = images.target_platforms("x86_64")

    assert platforms[0] == "manylinux_2_36_x86_64"
    assert "manylinux_2_17_x86_64" in platforms
    assert "manylinux2014_x86_64" in platforms
    assert not any(name.startswith("manylinux_2_39") for name in platforms)


def test_mirrors_come_from_the_machines_apt_sources(tmp_path: Path) -> None:
    # given: deb822 sources naming a local mirror, and a third-party repository
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\n"
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main\n"
    )
    (tmp_path / "sources.list.d" / "vendor.list").write_text("deb https://apt.vendor.example/debian stable main\n")

    # then
    assert images.debian_mirrors(tmp_path) == ("http://mirror.example/debian", "http://mirror.example/debian-security")
    assert images.debian_mirrors(tmp_path / "none") == (images.DEFAULT_MIRROR, images.DEFAULT_SECURITY_MIRROR)


def test_private_engine_sockets_stay_short_from_any_checkout(tmp_path: Path) -> None:
    # given: a checkout far down a long path (CI clones anywhere)
    deep = tmp_path.joinpath(*["a-rather-long-directory-name"] * 8) / "var" / "stack" / "docker"

    # when
    engine = Engine(deep)

    # then: sockets live under /run/shop-docker/<hash of the data root>, whatever the checkout's path
    assert len(str(deep)) > SOCKET_PATH_LIMIT
    assert len(str(engine.socket)) < SOCKET_PATH_LIMIT
    assert len(str(engine.exec_root / "containerd" / "containerd.sock")) < SOCKET_PATH_LIMIT
    assert engine.run_dir != Engine(tmp_path).run_dir


# -- the Kafka stand-in's scripts against a real Tansu ------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def tansu(tmp_path: Path) -> Iterator[str]:
    """A Tansu broker on a loopback port (memory storage); yields its bootstrap address."""
    binary = images.tansu_binary()
    port = _free_port()
    address = f"127.0.0.1:{port}"
    log = (tmp_path / "tansu.log").open("wb")
    broker = subprocess.Popen(
        [str(binary), "broker", "--listener-url", f"tcp://{address}", "--advertised-listener-url", f"tcp://{address}"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={"PATH": os.environ.get("PATH", ""), "NO_COLOR": "1"},
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    try:
        yield address
    finally:
        broker.terminate()
        try:
            broker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            broker.kill()
            broker.wait(timeout=10)
        log.close()


def _kafka_tool(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": f"{images.tansu_binary().parent}{os.pathsep}{os.environ.get('PATH', '')}", "NO_COLOR": "1"}
    return subprocess.run(
        ["bash", str(KAFKA_BIN / f"{name}.sh"), *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def test_kafka_init_calls_succeed_against_tansu(tansu: str) -> None:
    # given: the options kafka-init passes to every tool (compose/docker-compose.yml)
    admin = ["--bootstrap-server", tansu, "--command-config", "/tmp/admin.properties"]  # noqa: S108 - never opened
    assert "--command-config /tmp/admin.properties" in " ".join(load_compose()["services"]["kafka-init"]["command"])

    # when: kafka-init's calls, the topic creation twice (a restarted kafka-init)
    configs = _kafka_tool(
        "kafka-configs", *admin, "--alter", "--entity-type", "users", "--entity-name", "users",
        "--add-config", "SCRAM-SHA-512=[iterations=8192,password=x]",
    )  # fmt: skip
    created = [
        _kafka_tool(
            "kafka-topics",
            *admin,
            "--create",
            "--if-not-exists",
            "--topic",
            topic,
            "--partitions",
            "3",
            "--replication-factor",
            "1",
        )  # fmt: skip
        for topic in ("shop.users", "shop.orders", "shop.users", "shop.users.dlq")
    ]
    acls = _kafka_tool(
        "kafka-acls", *admin, "--add", "--allow-principal", "User:users", "--operation", "Write",
        "--topic", "shop.users", "--resource-pattern-type", "literal",
    )  # fmt: skip
    listed = _kafka_tool("kafka-topics", *admin, "--list")
    acl_list = _kafka_tool("kafka-acls", *admin, "--list")

    # then
    assert configs.returncode == 0
    assert configs.stdout == "stand-in: Tansu enforces no SCRAM users/ACLs\n"
    assert [r.returncode for r in created] == [0, 0, 0, 0], [r.stderr for r in created]
    assert acls.returncode == 0
    assert acls.stdout == "stand-in: Tansu enforces no SCRAM users/ACLs\n"
    assert listed.returncode == 0
    assert listed.stdout.split() == ["shop.orders", "shop.users", "shop.users.dlq"]
    assert acl_list.returncode == 0
    assert acl_list.stdout == ""


def test_kafka_topics_create_without_if_not_exists_refuses_a_duplicate(tansu: str) -> None:
    # given
    first = _kafka_tool("kafka-topics", "--bootstrap-server", tansu, "--create", "--topic", "shop.users")

    # when
    again = _kafka_tool("kafka-topics", "--bootstrap-server", tansu, "--create", "--topic", "shop.users")

    # then
    assert first.returncode == 0, first.stderr
    assert again.returncode == 1
    assert "already exists" in again.stderr


def test_kafka_health_check_passes_iff_the_broker_answers(tansu: str) -> None:
    # given: the health check's own command line, pointed at the test broker
    check = load_compose()["services"]["kafka"]["healthcheck"]["test"][1]
    assert "/opt/kafka/bin/kafka-broker-api-versions.sh --bootstrap-server localhost:9092" in check

    # when
    answering = _kafka_tool("kafka-broker-api-versions", "--bootstrap-server", tansu, "--command-config", "/x")
    silent = _kafka_tool("kafka-broker-api-versions", "--bootstrap-server", f"127.0.0.1:{_free_port()}")

    # then
    assert answering.returncode == 0, answering.stderr
    assert silent.returncode == 1
    assert "no broker" in silent.stderr


def test_kafka_stand_in_rejects_options_it_does_not_implement(tansu: str) -> None:
    result = _kafka_tool("kafka-topics", "--bootstrap-server", tansu, "--delete", "--topic", "shop.users")

    assert result.returncode == 2
    assert "unsupported option --delete" in result.stderr


def test_tansu_lists_topics_as_the_scripts_parse_them(tansu: str) -> None:
    # given: the scripts read names out of Tansu's JSON listing
    _kafka_tool("kafka-topics", "--bootstrap-server", tansu, "--create", "--topic", "shop.orders")

    # when
    listing = subprocess.run(
        [str(images.tansu_binary()), "topic", "list", "--broker", f"tcp://{tansu}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )

    # then
    assert [topic["name"] for topic in json.loads(listing.stdout)] == ["shop.orders"]
