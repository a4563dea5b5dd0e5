"""`python -m tools.stack.prepare`: the env file, JWT key and gRPC certificates `make up` needs, on real files."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bcrypt
import environ
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shopkit import settings as shop_settings
from shopkit.grpc.pki import SERVICES, spiffe_id
from tests.infra.support import COMPOSE_DIR, ENV_EXAMPLE, docker_compose, load_env_example
from tools.stack import prepare as stack_prepare
from tools.stack.prepare import PLACEHOLDER, PreparedStack, PrepareError, hash_source, prepare, read_env, urls

HASHES = ("LOKI_BASIC_AUTH_HASH", "PROMETHEUS_PASSWORD_HASH", "ALERTMANAGER_PASSWORD_HASH")
SECRETS = re.compile(r"PASSWORD|SECRET_KEY")
GRPC_FILES = ["ca.crt", "ca.key", *(f"{service}.{ext}" for service in SERVICES for ext in ("crt", "key"))]


def _min_length(name: str) -> int:
    """The minimum shopkit's production checks hold each secret to (a person's password, the key, machines)."""
    if name == "DJANGO_SECRET_KEY":
        return shop_settings.SECRET_KEY_MIN_LENGTH
    if name == "SHOP_DEMO_STAFF_PASSWORD":
        return shop_settings.PERSON_PASSWORD_MIN_LENGTH
    return shop_settings.MACHINE_PASSWORD_MIN_LENGTH


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _snapshot(root: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file and directory under `root`: mode, mtime (ns) and bytes."""
    return {
        str(path.relative_to(root)): (
            path.stat().st_mode,
            path.stat().st_mtime_ns,
            b"" if path.is_dir() else path.read_bytes(),
        )
        for path in sorted(root.rglob("*"))
    }


@pytest.fixture(scope="module")
def compose_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The compose directory without env or secrets, so the stack's own files are prepared where compose looks."""
    target = tmp_path_factory.mktemp("stack") / "compose"
    shutil.copytree(COMPOSE_DIR, target, ignore=shutil.ignore_patterns(".env", "secrets"))
    return target


@pytest.fixture(scope="module")
def fresh(compose_copy: Path) -> PreparedStack:
    return prepare(compose_copy / ".env", compose_copy / "secrets")


@pytest.fixture(scope="module")
def compose_config(fresh: PreparedStack, compose_copy: Path) -> dict[str, Any]:
    """`docker compose config` of the stack with every profile, on the generated env (as the containers get it)."""
    result = subprocess.run(
        [
            *docker_compose(),
            "--profile",
            "*",
            "--env-file",
            str(fresh.env_path),
            "-f",
            str(compose_copy / "docker-compose.yml"),
            "config",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        cwd=compose_copy.parent,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = json.loads(result.stdout)
    return config


def _copy_env(fresh: PreparedStack, tmp_path: Path, edit: Callable[[str], str] = lambda text: text) -> Path:
    env_path = tmp_path / ".env"
    env_path.write_text(edit(fresh.env_path.read_text()))
    env_path.chmod(0o600)
    return env_path


def _without(name: str) -> Callable[[str], str]:
    return lambda text: "".join(line for line in text.splitlines(keepends=True) if not line.startswith(f"{name}="))


def _replaced(name: str, raw: str) -> Callable[[str], str]:
    return lambda text: re.sub(rf"(?m)^{name}=.*$", lambda _: f"{name}={raw}", text)


def test_a_fresh_env_has_every_example_variable_and_no_placeholder(fresh: PreparedStack) -> None:
    # given: the example (fresh was prepared from it)
    example = load_env_example()

    # then
    assert list(fresh.env) == list(example)
    assert [name for name, value in fresh.env.items() if PLACEHOLDER.search(value)] == []
    assert fresh.env["SHOP_DEMO_STAFF_EMAIL"] == "staff@example.com"
    assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_-]{21}", fresh.env["KAFKA_CLUSTER_ID"])
    assert fresh.env["KAFKA_CLUSTER_ID"] != example["KAFKA_CLUSTER_ID"]
    kept = {
        name: value
        for name, value in example.items()
        if not PLACEHOLDER.search(value) and name not in {*HASHES, "KAFKA_CLUSTER_ID"}
    }
    assert {name: fresh.env[name] for name in kept} == kept
    assert fresh.added == []


def test_a_fresh_env_keeps_the_examples_comments_and_order(fresh: PreparedStack) -> None:
    # given
    example_lines = ENV_EXAMPLE.read_text().splitlines()
    env_lines = fresh.env_path.read_text().splitlines()

    # then: the same lines, but for the values of generated variables
    assert len(env_lines) == len(example_lines)
    for ours, theirs in zip(env_lines, example_lines, strict=True):
        if not theirs or theirs.startswith("#"):
            assert ours == theirs
        else:
            assert ours.split("=", 1)[0] == theirs.split("=", 1)[0]
            assert ours.endswith("# pragma: allowlist secret") == theirs.endswith("# pragma: allowlist secret")


def test_every_generated_secret_passes_the_production_checks(
    fresh: PreparedStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    monkeypatch.setenv("SHOP_ENV", "production")
    secrets = {name: value for name, value in fresh.env.items() if SECRETS.search(name) and not name.endswith("_HASH")}
    with pytest.raises(environ.ImproperlyConfigured):  # the checker is live: the example's value is refused
        shop_settings.require_strong_secret("REDIS_PASSWORD", load_env_example()["REDIS_PASSWORD"], min_length=16)

    # when / then: every placeholder became a secret, and no exception
    assert set(secrets) == {name for name, value in load_env_example().items() if PLACEHOLDER.search(value)}
    for name, value in secrets.items():
        shop_settings.require_strong_secret(name, value, min_length=_min_length(name))
        assert re.fullmatch(r"[0-9a-f]+", value), name


def test_the_processes_environment_from_compose_passes_their_start_up_checks(
    compose_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: what compose gives every Shop process (SHOP_ENV=production)
    shop = {
        name: s["environment"]
        for name, s in compose_config["services"].items()
        if "SHOP_ENV" in s.get("environment", {})
    }
    assert {env["SHOP_ENV"] for env in shop.values()} == {"production"}

    for name, env in shop.items():
        for variable, value in env.items():
            monkeypatch.setenv(variable, value)
        # when / then: shopkit's own readers accept the secret key, the database and Redis URLs
        assert shop_settings.secret_key() == env["DJANGO_SECRET_KEY"], name
        if "DATABASE_URL" in env:
            assert shop_settings.database(name.split("-")[0])["PASSWORD"], name
        if "CACHE_URL" in env:
            assert shop_settings.cache(name)["LOCATION"] == env["CACHE_URL"], name
        if "KAFKA_SASL_PASSWORD" in env:
            shop_settings.require_strong_secret(
                "KAFKA_SASL_PASSWORD", env["KAFKA_SASL_PASSWORD"], min_length=shop_settings.MACHINE_PASSWORD_MIN_LENGTH
            )
        if "SHOP_DEMO_STAFF_PASSWORD" in env:
            shop_settings.require_strong_secret(
                "SHOP_DEMO_STAFF_PASSWORD",
                env["SHOP_DEMO_STAFF_PASSWORD"],
                min_length=shop_settings.PERSON_PASSWORD_MIN_LENGTH,
            )
        for variable in env:
            monkeypatch.delenv(variable)


def test_each_hash_is_the_bcrypt_hash_of_its_password_written_single_quoted(fresh: PreparedStack) -> None:
    text = fresh.env_path.read_text()

    for name in HASHES:
        password, hashed = fresh.env[hash_source(name)], fresh.env[name]
        assert bcrypt.checkpw(password.encode(), hashed.encode()), name
        assert f"{name}='{hashed}'" in text
        assert hashed.startswith("$2b$12$")


def test_docker_compose_reads_the_hashes_as_written(fresh: PreparedStack, compose_config: dict[str, Any]) -> None:
    # `config` prints `$` as `$$` (its own escape); anything else would mean compose interpolated the hash
    def unescaped(value: str) -> str:
        return value.replace("$$", "$")

    loki_gateway = compose_config["services"]["loki-gateway"]["environment"]
    assert unescaped(loki_gateway["LOKI_BASIC_AUTH_HASH"]) == fresh.env["LOKI_BASIC_AUTH_HASH"]
    for name in ("prometheus", "alertmanager"):
        content = unescaped(compose_config["configs"][f"{name}_web_config"]["content"])
        assert f"{name}: '{fresh.env[f'{name.upper()}_PASSWORD_HASH']}'" in content
    for secret in compose_config["secrets"].values():
        if "file" in secret:
            assert Path(secret["file"]).is_relative_to(fresh.secrets_dir), secret
            assert Path(secret["file"]).is_file(), secret


def test_modes_keep_other_users_out_and_let_the_container_read_its_files(fresh: PreparedStack) -> None:
    grpc = fresh.secrets_dir / "grpc"

    assert _mode(fresh.env_path) == 0o600
    assert _mode(fresh.secrets_dir) == 0o700
    assert _mode(fresh.secrets_dir / "jwt_private.pem") == 0o644
    assert _mode(fresh.secrets_dir / "jwt_previous_public.pem") == 0o644
    assert {name: _mode(grpc / name) for name in GRPC_FILES} == {
        name: 0o600 if name == "ca.key" else 0o644 for name in GRPC_FILES
    }
    assert fresh.warnings == []


def test_the_jwt_key_is_rsa_2048_and_there_is_no_previous_key(fresh: PreparedStack) -> None:
    key = serialization.load_pem_private_key((fresh.secrets_dir / "jwt_private.pem").read_bytes(), password=None)

    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.key_size == 2048
    assert (fresh.secrets_dir / "jwt_previous_public.pem").read_bytes() == b""


def test_the_grpc_certificates_chain_to_the_ca(fresh: PreparedStack) -> None:
    grpc = fresh.secrets_dir / "grpc"
    ca = x509.load_pem_x509_certificate((grpc / "ca.crt").read_bytes())

    for service in SERVICES:
        cert = x509.load_pem_x509_certificate((grpc / f"{service}.crt").read_bytes())
        key = serialization.load_pem_private_key((grpc / f"{service}.key").read_bytes(), password=None)
        cert.verify_directly_issued_by(ca)
        assert key.public_key() == cert.public_key()
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert spiffe_id(service) in names.get_values_for_type(x509.UniformResourceIdentifier)


def test_running_it_again_changes_nothing_and_says_what_it_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given: a first run through the command line
    argv = ["--env", str(tmp_path / ".env"), "--secrets", str(tmp_path / "secrets")]
    assert stack_prepare.main(argv) == 0
    first = capsys.readouterr()
    before = _snapshot(tmp_path)

    # when
    assert stack_prepare.main(argv) == 0
    second = capsys.readouterr()

    # then
    assert _snapshot(tmp_path) == before
    files = [
        ".env",
        "secrets/jwt_private.pem",
        "secrets/jwt_previous_public.pem",
        *(f"secrets/grpc/{f}" for f in GRPC_FILES),
    ]
    assert first.out.splitlines() == [f"created {tmp_path / f}" for f in files[:1]] + [
        f"created {tmp_path / 'secrets'}",
        *(f"created {tmp_path / f}" for f in files[1:]),
    ]
    assert second.out.splitlines() == [f"kept {tmp_path / f}" for f in files]
    assert first.err == second.err == ""
    values = read_env(tmp_path / ".env")
    for name, value in values.items():
        if SECRETS.search(name) or name.endswith("_HASH"):
            assert value not in first.out + second.out, name


def test_an_existing_env_is_kept_byte_for_byte(fresh: PreparedStack, tmp_path: Path) -> None:
    # given: someone's own env file, with their changes and additions
    env_path = _copy_env(
        fresh, tmp_path, lambda text: _replaced("GRAFANA_ADMIN_USER", "grafana-boss")(text) + "# mine\nEXTRA=1\n"
    )
    before = env_path.read_bytes()

    # when
    stack = prepare(env_path, tmp_path / "secrets")

    # then
    assert env_path.read_bytes() == before
    assert stack.kept[0] == env_path
    assert stack.added == []
    assert stack.env["GRAFANA_ADMIN_USER"] == "grafana-boss"
    assert stack.env["EXTRA"] == "1"


def test_a_variable_the_example_gained_is_appended_and_the_rest_kept(fresh: PreparedStack, tmp_path: Path) -> None:
    # given: an env made before the example had these two
    env_path = _copy_env(
        fresh, tmp_path, lambda text: _without("PROMETHEUS_PASSWORD_HASH")(_without("KAFKA_PRODUCTS_PASSWORD")(text))
    )
    before = env_path.read_bytes()

    # when
    stack = prepare(env_path, tmp_path / "secrets")

    # then: appended, made as a fresh file makes them; the hash from the password the file already has
    after = env_path.read_bytes()
    assert after.startswith(before)
    assert stack.added == ["KAFKA_PRODUCTS_PASSWORD", "PROMETHEUS_PASSWORD_HASH"]
    assert f"added KAFKA_PRODUCTS_PASSWORD to {env_path}" in stack.lines
    assert list(stack.env) == [*(n for n in fresh.env if n not in stack.added), *stack.added]
    assert re.fullmatch(r"[0-9a-f]{48}", stack.env["KAFKA_PRODUCTS_PASSWORD"])
    assert stack.env["KAFKA_PRODUCTS_PASSWORD"] != fresh.env["KAFKA_PRODUCTS_PASSWORD"]
    assert stack.env["PROMETHEUS_PASSWORD"] == fresh.env["PROMETHEUS_PASSWORD"]
    assert bcrypt.checkpw(stack.env["PROMETHEUS_PASSWORD"].encode(), stack.env["PROMETHEUS_PASSWORD_HASH"].encode())


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (_replaced("REDIS_PASSWORD", "replace-with-redis-password"), "still a placeholder: REDIS_PASSWORD"),
        (_replaced("SHOP_DEMO_STAFF_PASSWORD", "change-me-please"), "still a placeholder: SHOP_DEMO_STAFF_PASSWORD"),
        # unquoted, compose (and python-dotenv) read `$2b...` as variables
        (lambda text: re.sub(r"(?m)^(PROMETHEUS_PASSWORD_HASH=)'([^']*)'", r"\1\2", text), "PROMETHEUS_PASSWORD_HASH"),
        # the password gone: a new one would not be what the kept hash hashes
        (
            _without("LOKI_BASIC_AUTH_PASSWORD"),
            "LOKI_BASIC_AUTH_HASH is not the bcrypt hash of LOKI_BASIC_AUTH_PASSWORD",
        ),
    ],
    ids=["placeholder", "person-placeholder", "unquoted-hash", "hash-without-password"],
)
def test_an_existing_env_that_cannot_work_is_refused_and_left_alone(
    fresh: PreparedStack, tmp_path: Path, edit: Callable[[str], str], named: str
) -> None:
    # given
    env_path = _copy_env(fresh, tmp_path, edit)
    before = env_path.read_bytes()

    # when
    with pytest.raises(PrepareError) as refused:
        prepare(env_path, tmp_path / "secrets")

    # then: nothing written, the secrets not even started
    assert named in str(refused.value)
    assert env_path.read_bytes() == before
    assert not (tmp_path / "secrets").exists()


def test_existing_secrets_are_never_overwritten(fresh: PreparedStack, tmp_path: Path) -> None:
    # given: someone's own keys and certificates, in a directory others may read
    secrets_dir = tmp_path / "secrets"
    shutil.copytree(fresh.secrets_dir, secrets_dir)
    previous = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    (secrets_dir / "jwt_previous_public.pem").write_bytes(
        previous.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    secrets_dir.chmod(0o755)
    before = {path: path.read_bytes() for path in secrets_dir.rglob("*") if path.is_file()}

    # when
    stack = prepare(_copy_env(fresh, tmp_path), secrets_dir)

    # then: every file as it was; the directory closed to others
    assert {path: path.read_bytes() for path in secrets_dir.rglob("*") if path.is_file()} == before
    assert stack.created == []
    assert _mode(secrets_dir) == 0o700
    assert f"set {secrets_dir} to mode 0700 (was 0755)" in stack.lines


def test_a_broken_jwt_key_is_reported_not_replaced(fresh: PreparedStack, tmp_path: Path) -> None:
    # given: what a test run that stopped half-way may leave behind
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir(mode=0o700)
    (secrets_dir / "jwt_private.pem").write_text("placeholder for docker compose config\n")

    # when
    with pytest.raises(PrepareError) as refused:
        prepare(_copy_env(fresh, tmp_path), secrets_dir)

    # then
    assert "jwt_private.pem is not an unencrypted PEM private key" in str(refused.value)
    assert (secrets_dir / "jwt_private.pem").read_text() == "placeholder for docker compose config\n"


def test_a_key_the_container_cannot_read_is_warned_about(fresh: PreparedStack, tmp_path: Path) -> None:
    # given: a key made with `openssl genpkey` and no chmod (0600): uid 10001 in the container cannot read it
    secrets_dir = tmp_path / "secrets"
    shutil.copytree(fresh.secrets_dir, secrets_dir)
    (secrets_dir / "jwt_private.pem").chmod(0o600)

    # when
    stack = prepare(_copy_env(fresh, tmp_path), secrets_dir)

    # then
    assert stack.warnings == [
        f"{secrets_dir / 'jwt_private.pem'} is mode 0600: the containers (uid 10001) cannot read it; "
        f"chmod 644 {secrets_dir / 'jwt_private.pem'}"
    ]


def test_given_values_go_into_a_new_env_its_hashes_and_where_the_secrets_are(tmp_path: Path) -> None:
    # given
    chosen = "a1" * 12
    given = {"SHOP_DOMAIN": "shop.test", "HTTPS_PORT": "8443", "PROMETHEUS_PASSWORD": chosen}
    given["SHOP_SECRETS_DIR"] = "./elsewhere"

    # when: no secrets directory given
    stack = prepare(tmp_path / ".env", None, given)

    # then
    assert {name: stack.env[name] for name in given} == given
    assert stack.secrets_dir == tmp_path / "elsewhere"
    assert (tmp_path / "elsewhere" / "jwt_private.pem").is_file()
    assert not (tmp_path / "secrets").exists()
    assert bcrypt.checkpw(chosen.encode(), stack.env["PROMETHEUS_PASSWORD_HASH"].encode())
    assert urls(stack.env)[0] == ("shop API", "https://shop.test:8443/api/")
    with pytest.raises(PrepareError, match="not variables of .*: NO_SUCH_VARIABLE"):
        prepare(tmp_path / "other.env", tmp_path / "secrets", {"NO_SUCH_VARIABLE": "1"})
    assert not (tmp_path / "other.env").exists()


def test_urls_of_the_example_env() -> None:
    assert urls(load_env_example()) == [
        ("shop API", "https://localhost/api/"),
        ("users admin", "https://localhost:5000/admin/"),
        ("products admin", "https://localhost:5001/admin/"),
        ("orders admin", "https://localhost:5002/admin/"),
        ("carts admin", "https://localhost:5003/admin/"),
        ("Grafana", "http://127.0.0.1:3001"),
        ("Prometheus", "http://127.0.0.1:9090"),
        ("Alertmanager", "http://127.0.0.1:9093"),
        ("pgAdmin (make tools)", "http://127.0.0.1:5050"),
        ("RedisInsight (make tools)", "http://127.0.0.1:5540"),
    ]


def test_urls_follow_the_domain_and_ports_of_the_env() -> None:
    env = {
        "SHOP_DOMAIN": "shop.test",
        "HTTPS_PORT": "8443",
        "GRAFANA_PORT": "3999",
        "CARTS_ADMIN_PORT": "6003",
        "PGADMIN_PORT": "6050",
    }

    assert urls(env) == [
        ("shop API", "https://shop.test:8443/api/"),
        ("users admin", "https://shop.test:5000/admin/"),
        ("products admin", "https://shop.test:5001/admin/"),
        ("orders admin", "https://shop.test:5002/admin/"),
        ("carts admin", "https://shop.test:6003/admin/"),
        ("Grafana", "http://127.0.0.1:3999"),
        ("Prometheus", "http://127.0.0.1:9090"),
        ("Alertmanager", "http://127.0.0.1:9093"),
        ("pgAdmin (make tools)", "http://127.0.0.1:6050"),
        ("RedisInsight (make tools)", "http://127.0.0.1:5540"),
    ]


def test_urls_mode_says_where_each_password_is_never_the_password(
    fresh: PreparedStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # when
    code = stack_prepare.main(["--urls", "--env", str(fresh.env_path)])
    out = capsys.readouterr().out

    # then
    assert code == 0
    for _, url in urls(fresh.env):
        assert url in out
    where = str(fresh.env_path)
    assert f"staff@example.com (demo data), password SHOP_DEMO_STAFF_PASSWORD in {where}" in out
    assert f"user admin, password GRAFANA_ADMIN_PASSWORD in {where}" in out
    assert f"user prometheus, password PROMETHEUS_PASSWORD in {where}" in out
    assert f"user alertmanager, password ALERTMANAGER_PASSWORD in {where}" in out
    assert f"password PGADMIN_DEFAULT_PASSWORD in {where}" in out
    leaked = [name for name, value in fresh.env.items() if SECRETS.search(name) and value in out]
    assert leaked == []


def test_urls_mode_without_an_env_file_says_what_to_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = stack_prepare.main(["--urls", "--env", str(tmp_path / ".env")])

    assert code == 1
    assert "run `python -m tools.stack.prepare` first" in capsys.readouterr().err


def test_the_modes_hold_whatever_the_umask(tmp_path: Path) -> None:
    # given: a permissive umask
    previous = os.umask(0o000)
    try:
        # when
        stack = prepare(tmp_path / ".env", tmp_path / "secrets")
    finally:
        os.umask(previous)

    # then
    assert _mode(stack.env_path) == 0o600
    assert _mode(stack.secrets_dir) == 0o700
