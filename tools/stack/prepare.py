"""What `make up` needs before Docker starts: compose/.env with fresh secrets, the JWT key, gRPC certificates.

    python -m tools.stack.prepare [--env compose/.env] [--secrets DIR] [--set NAME=VALUE ...]
    python -m tools.stack.prepare --urls [--env compose/.env]    # where the stack answers (for `make up`)

compose/.env is created from compose/.env.example when it is missing, comments and order kept, mode 0600:
every placeholder ("replace-with-...", "change-me-...") becomes a fresh `secrets.token_hex` value, long enough
for the production checks (shopkit.settings.require_strong_secret); KAFKA_CLUSTER_ID a fresh KRaft cluster id;
each `*_HASH` the bcrypt hash of its password (LOKI_BASIC_AUTH_HASH of LOKI_BASIC_AUTH_PASSWORD,
PROMETHEUS_PASSWORD_HASH of PROMETHEUS_PASSWORD, ...), single-quoted so that compose does not read its `$` as
variables. Every other value stays as the example has it, or as `--set` gives it.

An existing compose/.env is never rewritten. A variable the example has and the file lacks (the example gained
one since) is appended, made as above from what the file holds, and reported. A placeholder still in the file,
or a hash that is not its password's, is an error naming the variables, and nothing is written: the file is
the user's to fix (deleting it makes new passwords, which database volumes initialised with the old ones refuse).

The secrets directory (`--secrets`, else the env's SHOP_SECRETS_DIR from the env file's directory, as compose
reads it; compose/secrets by default) is mode 0700 and gets jwt_private.pem (RSA 2048, the users service's
signing key), an empty jwt_previous_public.pem (no previous key; see docs/security.md on rotation) and grpc/
(tools.certs: the CA and the products/orders/carts certificates, issued again only when missing, invalid or
near expiry). Nothing else there is ever overwritten. The files compose mounts are mode 0644 on purpose:
compose's file secrets are bind mounts that keep the host file's owner and mode, and the Shop image runs as
uid 10001, which must read them. What keeps the host's other users out is the 0700 directory (a container
reaches the files through its own mounts, not through that directory). The CA's key stays 0600 and is mounted nowhere.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import re
import secrets
import stat
import sys
import tempfile
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import bcrypt
from dotenv import dotenv_values

from shopkit.grpc.pki import SERVICES, ensure_pki
from tools.certs import SERVICE_KEY_MODE
from user_svc.accounts.keys import KeyFileError, create_private_key_file, load_previous_public_key, load_private_key

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_DIR = ROOT / "compose"
ENV_EXAMPLE = COMPOSE_DIR / ".env.example"

ENV_MODE = 0o600
SECRETS_DIR_MODE = 0o700
SECRET_FILE_MODE = 0o644
JWT_PRIVATE = "jwt_private.pem"
JWT_PREVIOUS_PUBLIC = "jwt_previous_public.pem"
GRPC_DIR = "grpc"
# Where compose takes the file secrets from (relative: from compose/); the default of `--secrets`.
SECRETS_DIR_VARIABLE = "SHOP_SECRETS_DIR"  # pragma: allowlist secret

# What .env.example marks as "set your own" (KAFKA_CLUSTER_ID and the hashes are made fresh as well).
PLACEHOLDER = re.compile(r"replace-with|change-me", re.IGNORECASE)
# Random bytes per generated secret, written as hex (twice as many characters; hex because the passwords go
# into URLs and SCRAM settings unquoted). Production's minimums (shopkit.settings): DJANGO_SECRET_KEY 50
# characters, machine passwords 16, the staff password (a person types it) 15.
SECRET_BYTES = {"DJANGO_SECRET_KEY": 32, "SHOP_DEMO_STAFF_PASSWORD": 12}
DEFAULT_SECRET_BYTES = 24
# The cost .env.example's hashes have; Prometheus, Alertmanager and Caddy cache a checked password.
BCRYPT_ROUNDS = 12
KAFKA_CLUSTER_ID = "KAFKA_CLUSTER_ID"

# Where the admins are served over HTTPS: a port variable when .env.example has one, else these.
ADMIN_PORTS = (
    ("users", "USERS_ADMIN_PORT", "5000"),
    ("products", "PRODUCTS_ADMIN_PORT", "5001"),
    ("orders", "ORDERS_ADMIN_PORT", "5002"),
    ("carts", "CARTS_ADMIN_PORT", "5003"),
)

_ASSIGNMENT = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<raw>'[^']*'|\"[^\"]*\"|[^\s#'\"]*)(?P<rest>\s+#.*)?")
# Values written unquoted; anything else is single-quoted (no interpolation, no comment).
_PLAIN = re.compile(r"[A-Za-z0-9_./:,@+=-]*")


class PrepareError(Exception):
    """The stack cannot be prepared without a person deciding something; the message says what."""


@dataclass
class PreparedStack:
    env_path: Path
    secrets_dir: Path
    # The env file as compose reads it (after this call).
    env: dict[str, str] = field(default_factory=dict)
    created: list[Path] = field(default_factory=list)
    renewed: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)
    # Variables appended to an existing env file.
    added: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # One line per thing done or found, in the order it happened.
    lines: list[str] = field(default_factory=list)

    def record(self, kind: Literal["created", "renewed", "kept"], path: Path) -> None:
        {"created": self.created, "renewed": self.renewed, "kept": self.kept}[kind].append(path)
        self.lines.append(f"{kind} {display(path)}")


@dataclass(frozen=True)
class _Line:
    text: str
    name: str | None = None
    value: str = ""
    rest: str = ""


def display(path: Path) -> str:
    """`path` relative to the working directory when it is under it (compose/.env), else as given."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def kafka_cluster_id() -> str:
    """A KRaft cluster id as `kafka-storage.sh random-uuid` makes one: a random UUID in 22 base64url characters.

    Like Kafka, never one that starts with `-` (it is passed on a command line).
    """
    for _ in range(1000):  # 1 in 64 starts with "-": a thousand misses in a row do not happen
        candidate = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not candidate.startswith("-"):
            return candidate
    raise PrepareError("could not draw a Kafka cluster id")


def bcrypt_hash(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(BCRYPT_ROUNDS)).decode()


def hash_source(name: str) -> str:
    """The password a `*_HASH` variable hashes: PROMETHEUS_PASSWORD_HASH, LOKI_BASIC_AUTH_HASH -> ..._PASSWORD."""
    base = name.removesuffix("_HASH")
    return base if base.endswith("_PASSWORD") else f"{base}_PASSWORD"


def _is_hash(name: str) -> bool:
    return name.endswith("_HASH")


def _hash_matches(password: str, hashed: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode(), hashed.encode())
    except ValueError:  # not a bcrypt hash at all
        return False


def _read_example(path: Path) -> list[_Line]:
    lines = []
    for number, text in enumerate(path.read_text().splitlines(), 1):
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            lines.append(_Line(text))
            continue
        match = _ASSIGNMENT.fullmatch(text)
        if match is None:
            raise PrepareError(f"{path}:{number}: not a NAME=value line")
        raw = match["raw"]
        value = raw[1:-1] if raw[:1] in {"'", '"'} else raw
        lines.append(_Line(text, match["name"], value, match["rest"] or ""))
    return lines


def read_env(path: Path) -> dict[str, str]:
    """The env file's values as compose reads them (single quotes literal, `${VAR}` interpolated otherwise)."""
    return {name: value or "" for name, value in dotenv_values(path).items()}


def _render(name: str, value: str) -> str:
    if _PLAIN.fullmatch(value):
        return value
    if "'" in value or "\n" in value:
        raise PrepareError(f"{name}: a value with a single quote or a newline cannot be written to the env file")
    return f"'{value}'"


def _assignment(line: _Line, value: str) -> str:
    assert line.name is not None
    return f"{line.name}={_render(line.name, value)}{line.rest}"


def _plan(
    example: list[_Line], names: Iterable[str], known: Mapping[str, str], overrides: Mapping[str, str]
) -> dict[str, str]:
    """Values for `names` (what a file gets now): given ones, fresh secrets or the example's, then the hashes
    of the passwords planned here or already `known` (the existing file's)."""
    wanted = set(names)
    planned: dict[str, str] = {}
    entries = [line for line in example if line.name in wanted]
    for line in entries:
        assert line.name is not None
        if _is_hash(line.name):
            continue
        if line.name in overrides:
            planned[line.name] = overrides[line.name]
        elif line.name == KAFKA_CLUSTER_ID:
            planned[line.name] = kafka_cluster_id()
        elif PLACEHOLDER.search(line.value):
            planned[line.name] = secrets.token_hex(SECRET_BYTES.get(line.name, DEFAULT_SECRET_BYTES))
        else:
            planned[line.name] = line.value
    for line in entries:
        assert line.name is not None
        if not _is_hash(line.name):
            continue
        if line.name in overrides:
            planned[line.name] = overrides[line.name]
            continue
        source = hash_source(line.name)
        password = planned.get(source, known.get(source))
        if password is None:
            raise PrepareError(f"{line.name} hashes {source}, which .env.example does not have")
        planned[line.name] = bcrypt_hash(password)
    return planned


def _single_quoted(path: Path, name: str) -> bool:
    """Whether the (last, winning) assignment of `name` in the env file is single-quoted: read literally."""
    assignments = re.findall(rf"(?m)^[ \t]*(?:export[ \t]+)?{re.escape(name)}[ \t]*=[ \t]*(\S?)", path.read_text())
    return bool(assignments) and assignments[-1] == "'"


def _problems(values: Mapping[str, str], names: list[str], env_path: Path, in_file: Iterable[str]) -> list[str]:
    """What keeps the env file from working: placeholders, hashes compose would mangle or that do not match."""
    found = []
    written = set(in_file)
    if placeholders := [name for name in names if PLACEHOLDER.search(values.get(name, ""))]:
        found.append(f"still a placeholder: {', '.join(placeholders)}")
    for name in names:
        source = hash_source(name)
        if not _is_hash(name) or name not in values or source not in values or source in placeholders:
            continue
        if name in written and "$" in values[name] and not _single_quoted(env_path, name):
            found.append(f"{name} is not single-quoted: compose would read its `$` as variables")
        elif not _hash_matches(values[source], values[name]):
            found.append(f"{name} is not the bcrypt hash of {source}")
    return found


def _create_file(path: Path, data: bytes, mode: int) -> bool:
    """Write `path` with `mode` unless it exists; True when this call created it.

    A complete temporary file is hard-linked into place, which fails if the path exists: never a half-written
    file, never an overwrite, even with two runs at once.
    """
    if path.exists():
        return False
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # 0600 from the start
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def _create_env(stack: PreparedStack, example: list[_Line], names: list[str], overrides: Mapping[str, str]) -> None:
    planned = _plan(example, names, {}, overrides)
    text = "".join(
        (line.text if line.name is None or planned[line.name] == line.value else _assignment(line, planned[line.name]))
        + "\n"
        for line in example
    )
    stack.env_path.parent.mkdir(parents=True, exist_ok=True)
    if not _create_file(stack.env_path, text.encode(), ENV_MODE):
        raise PrepareError(f"{stack.env_path} appeared while this run was making it: run again")
    stack.record("created", stack.env_path)
    if wrong := [name for name in names if read_env(stack.env_path).get(name) != planned[name]]:
        raise PrepareError(f"{stack.env_path} does not read back as written: {', '.join(wrong)}")


def _complete_env(stack: PreparedStack, example: list[_Line], names: list[str], overrides: Mapping[str, str]) -> None:
    values = read_env(stack.env_path)
    missing = [name for name in names if name not in values]
    added = _plan(example, missing, values, overrides)
    problems = _problems({**values, **added}, names, stack.env_path, values)
    if conflicting := sorted(name for name, value in overrides.items() if name in values and values[name] != value):
        problems.insert(
            0, f"set to other values than --set gives (edit the file to change them): {', '.join(conflicting)}"
        )
    if problems:
        raise PrepareError(
            f"{display(stack.env_path)} is kept as it is, but:\n  "
            + "\n  ".join(problems)
            + "\nFix them in the file (deleting it makes new passwords, which existing database volumes refuse)."
        )
    shown = display(stack.env_path)
    mode = stat.S_IMODE(stack.env_path.stat().st_mode)
    if mode & 0o077:
        stack.warnings.append(f"{shown} is readable by other users (mode {mode:04o}): chmod 600 {shown}")
    if not added:
        stack.record("kept", stack.env_path)
        return
    block = [f"# Added by `python -m tools.stack.prepare` from {ENV_EXAMPLE.name}, which documents them."]
    block += [_assignment(line, added[line.name]) for line in example if line.name in added]
    ending = "" if stack.env_path.read_bytes().endswith(b"\n") else "\n"
    with stack.env_path.open("a") as handle:
        handle.write(ending + "\n" + "\n".join(block) + "\n")
    stack.added.extend(added)
    stack.lines.extend(f"added {name} to {shown}" for name in added)


def _require_readable_by_the_container(stack: PreparedStack, path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if not mode & stat.S_IROTH:
        stack.warnings.append(
            f"{display(path)} is mode {mode:04o}: the containers (uid 10001) cannot read it; chmod 644 {display(path)}"
        )


def _prepare_secrets(stack: PreparedStack) -> None:
    directory = stack.secrets_dir
    if directory.exists():
        mode = stat.S_IMODE(directory.stat().st_mode)
        if mode != SECRETS_DIR_MODE:
            os.chmod(directory, SECRETS_DIR_MODE)
            stack.lines.append(f"set {display(directory)} to mode {SECRETS_DIR_MODE:04o} (was {mode:04o})")
    else:
        directory.mkdir(parents=True)
        os.chmod(directory, SECRETS_DIR_MODE)  # whatever the umask
        stack.record("created", directory)

    private = directory / JWT_PRIVATE
    if create_private_key_file(private):
        os.chmod(private, SECRET_FILE_MODE)
        stack.record("created", private)
    else:
        stack.record("kept", private)
    previous = directory / JWT_PREVIOUS_PUBLIC
    stack.record("created" if _create_file(previous, b"", SECRET_FILE_MODE) else "kept", previous)
    try:
        load_private_key(private)
        load_previous_public_key(previous)
    except KeyFileError as exc:
        raise PrepareError(f"{exc} (kept as it is: replace it yourself; tokens signed with the old key end)") from exc
    _require_readable_by_the_container(stack, private)
    _require_readable_by_the_container(stack, previous)

    grpc = directory / GRPC_DIR
    files = [("ca", "crt"), ("ca", "key"), *((service, ext) for service in SERVICES for ext in ("crt", "key"))]
    existed = {(name, ext) for name, ext in files if (grpc / f"{name}.{ext}").exists()}
    written = ensure_pki(grpc, SERVICES, key_mode=SERVICE_KEY_MODE)
    for name, ext in files:
        path = grpc / f"{name}.{ext}"
        if name not in written:
            stack.record("kept", path)
        else:
            stack.record("renewed" if (name, ext) in existed else "created", path)
        if name != "ca" or ext == "crt":
            _require_readable_by_the_container(stack, path)


def secrets_dir_of(env_path: Path, env: Mapping[str, str]) -> Path:
    """The env's SHOP_SECRETS_DIR (default ./secrets), a relative one taken from the env file's directory:
    compose/, the project directory compose resolves it from."""
    configured = Path(env.get(SECRETS_DIR_VARIABLE) or "./secrets")
    return configured if configured.is_absolute() else env_path.parent / configured


def prepare(
    env_path: Path,
    secrets_dir: Path | None,
    overrides: dict[str, str] | None = None,
    *,
    example_path: Path = ENV_EXAMPLE,
) -> PreparedStack:
    """Make what is missing of the env file and the secrets directory (None: the env's SHOP_SECRETS_DIR);
    never overwrite what exists."""
    given = dict(overrides or {})
    example = _read_example(example_path)
    names = [line.name for line in example if line.name is not None]
    if unknown := sorted(set(given) - set(names)):
        raise PrepareError(f"not variables of {display(example_path)}: {', '.join(unknown)}")
    # Without a directory given, the env file (made first) says where it is.
    stack = PreparedStack(env_path=env_path, secrets_dir=secrets_dir or env_path.parent)
    if env_path.exists():
        _complete_env(stack, example, names, given)
    else:
        _create_env(stack, example, names, given)
    stack.env = read_env(env_path)
    if secrets_dir is None:
        stack.secrets_dir = secrets_dir_of(env_path, stack.env)
    _prepare_secrets(stack)
    return stack


def urls(env: Mapping[str, str]) -> list[tuple[str, str]]:
    """Where the running stack answers, by name (the defaults are compose's)."""
    domain = env.get("SHOP_DOMAIN") or "localhost"
    https_port = env.get("HTTPS_PORT") or "443"
    origin = f"https://{domain}" if https_port == "443" else f"https://{domain}:{https_port}"
    found = [("shop API", f"{origin}/api/")]
    found += [
        (f"{service} admin", f"https://{domain}:{env.get(variable) or port}/admin/")
        for service, variable, port in ADMIN_PORTS
    ]
    return [
        *found,
        ("Grafana", f"http://127.0.0.1:{env.get('GRAFANA_PORT') or '3001'}"),
        ("Prometheus", "http://127.0.0.1:9090"),
        ("Alertmanager", "http://127.0.0.1:9093"),
        ("pgAdmin (make tools)", f"http://127.0.0.1:{env.get('PGADMIN_PORT') or '5050'}"),
        ("RedisInsight (make tools)", f"http://127.0.0.1:{env.get('REDISINSIGHT_PORT') or '5540'}"),
    ]


def sign_ins(env: Mapping[str, str], where: str) -> list[tuple[str, str]]:
    """Who signs in where: user names, and the variable in `where` that holds each password (never the password)."""
    return [
        (
            "staff, every admin",
            f"{env.get('SHOP_DEMO_STAFF_EMAIL', '')} (demo data), password SHOP_DEMO_STAFF_PASSWORD in {where}",
        ),
        ("Grafana", f"user {env.get('GRAFANA_ADMIN_USER', '')}, password GRAFANA_ADMIN_PASSWORD in {where}"),
        ("Prometheus", f"user prometheus, password PROMETHEUS_PASSWORD in {where}"),
        ("Alertmanager", f"user alertmanager, password ALERTMANAGER_PASSWORD in {where}"),
        (
            "pgAdmin",
            f"user {env.get('PGADMIN_DEFAULT_EMAIL', '')}, password PGADMIN_DEFAULT_PASSWORD in {where}; "
            f"each database asks once for its owner's <SERVICE>_DB_PASSWORD",
        ),
        ("RedisInsight", f"no sign-in (loopback only); Redis asks for REDIS_PASSWORD in {where}"),
    ]


def _table(rows: list[tuple[str, str]]) -> str:
    width = max(len(name) for name, _ in rows)
    return "".join(f"  {name:<{width}}  {value}\n" for name, value in rows)


def _write_urls(env_path: Path) -> None:
    if not env_path.is_file():
        raise PrepareError(f"{display(env_path)} does not exist: run `python -m tools.stack.prepare` first")
    env = read_env(env_path)
    sys.stdout.write("Shop:\n" + _table(urls(env)) + "Sign-in:\n" + _table(sign_ins(env, display(env_path))))


def _overrides(pairs: list[str]) -> dict[str, str]:
    found = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals:
            raise PrepareError(f"--set {pair}: expected NAME=VALUE")
        found[name] = value
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", type=Path, default=COMPOSE_DIR / ".env", help="the env file (default compose/.env)")
    parser.add_argument("--secrets", type=Path, help="default: the env's SHOP_SECRETS_DIR, else compose/secrets")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE", help="a value for a new env file"
    )
    parser.add_argument("--urls", action="store_true", help="print where the stack answers and who signs in where")
    args = parser.parse_args(argv)
    try:
        if args.urls:
            _write_urls(args.env)
            return 0
        stack = prepare(args.env, args.secrets, _overrides(args.overrides))
    except PrepareError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    sys.stdout.writelines(f"{line}\n" for line in stack.lines)
    sys.stderr.writelines(f"warning: {warning}\n" for warning in stack.warnings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
