"""The private engine on a real dockerd: what it leaves on the host after it stops (nothing), what it does
beside another engine, and an engine it is given (never stopped).

Each scenario runs in a network namespace of its own (`unshare --net`), so its iptables rules and bridges
are its own: the checks are exact, and the host's engine (and its rules) are never touched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tools.stack.images import tansu_binary

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(300)

# Runs inside the namespace: python - <scenario> <workdir>; prints one JSON object.
SCENARIOS = r"""
import json, os, subprocess, sys
from pathlib import Path
from tools.stack.engine import Engine, EngineError, _mounts_under, purge

scenario, workdir = sys.argv[1], Path(sys.argv[2])
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
started = []


def output(argv):
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


def firewall():
    found = {}
    for tool in ("iptables-save", "ip6tables-save"):
        table = None
        for line in output([tool]).splitlines():
            if line.startswith("*"):
                table = line[1:]
            elif line.startswith(":"):
                name, policy = line[1:].split()[:2]
                # A fresh namespace lists no table until one is used; empty built-in chains are the same.
                if policy not in ("ACCEPT", "-") or name.startswith("DOCKER"):
                    found.setdefault(f"{tool} {table}", []).append(f":{name} {policy}")
            elif line.startswith("-A"):
                found.setdefault(f"{tool} {table}", []).append(line)
    return found


def links():
    return sorted(line.split()[0].split("@")[0] for line in output(["ip", "-br", "link"]).splitlines())


def engine_of(name, **options):
    engine = Engine(workdir / name, **options)
    started.append(engine)
    return engine


def busy_engine(name):
    # What the stack makes: a network, an internal one, a container publishing a port on loopback.
    engine = engine_of(name, use_existing=False).start()
    tar = subprocess.run(["tar", "-C", str(workdir), "-c", "tansu"], capture_output=True, check=True).stdout
    subprocess.run(["docker", "import", "-", "tansu:local"], input=tar, env=engine.env, capture_output=True, check=True)
    engine.docker("network", "create", "public")
    engine.docker("network", "create", "--internal", "private")
    publish = ["--network", "public", "-p", "127.0.0.1:19092:9092"]
    engine.docker("run", "-d", "--name", "broker", *publish, "tansu:local", "/tansu", "broker")
    engine.docker("network", "connect", "private", "broker")
    return engine


def clean():
    before = {"firewall": firewall(), "links": links()}
    engine = busy_engine("a")
    pid = int(engine.pidfile.read_text())
    running = {"firewall": firewall(), "links": links()}
    engine.stop()
    return {
        "before": before,
        "running": running,
        "after": {"firewall": firewall(), "links": links()},
        "dockerd_alive": os.path.exists(f"/proc/{pid}"),
        "mounts": _mounts_under(engine.exec_root),
        "left": engine.run_dir.exists(),
        "stop_seconds": engine.stop_seconds,
        "kept_data": engine.data_root.is_dir(),
        "purged": purge(engine.state_dir) or not engine.data_root.exists(),
    }


def beside():
    first = busy_engine("a")
    before = firewall()
    second = engine_of("b", use_existing=False)
    try:
        second.start()
        refused = None
    except EngineError as error:
        refused = str(error)
    os.environ["SHOP_DOCKER_SHARE_NETNS"] = "1"
    second.start()
    owned = second.owned
    second.stop()
    after = firewall()
    answers = first.docker("version", check=False).returncode == 0
    first.stop()
    return {"refused": refused, "second_owned": owned, "before": before, "after": after, "first_answers": answers}


def given():
    first = engine_of("a", use_existing=False).start()
    os.environ["SHOP_DOCKER_HOST"] = first.host
    engine = engine_of("b").start()
    found = {"owned": engine.owned, "same_host": engine.host == first.host}
    found["env"] = {k: v for k, v in engine.env.items() if k.startswith(("DOCKER", "COMPOSE"))}
    compose = subprocess.run(["docker", "compose", "version"], env=engine.env, capture_output=True, text=True)
    found["compose"] = compose.stdout.strip()
    engine.stop()
    found["first_answers"] = first.docker("version", check=False).returncode == 0
    try:
        purge(first.state_dir)
        found["purge_refused"] = None
    except EngineError as error:
        found["purge_refused"] = str(error)
    first.stop()
    os.environ["SHOP_DOCKER_HOST"] = "unix:///nonexistent/docker.sock"
    try:
        engine_of("c").start()
        found["unreachable"] = None
    except EngineError as error:
        found["unreachable"] = str(error)
    return found


try:
    print(json.dumps({"clean": clean, "beside": beside, "given": given}[scenario]()))
finally:
    for engine in reversed(started):
        engine.stop()
"""


def _in_namespace(scenario: str, workdir: Path) -> dict[str, Any]:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.fail("the engine tests need root and unshare (util-linux), as the private engine does")
    shutil.copy(tansu_binary(), workdir / "tansu")
    env = {
        k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "SHOP_DOCKER_HOST", "SHOP_DOCKER_SHARE_NETNS")
    }
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        ["unshare", "--net", sys.executable, "-c", SCENARIOS, scenario, str(workdir)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-6000:]
    found: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return found


def test_a_stopped_private_engine_leaves_no_chain_rule_bridge_or_mount(tmp_path: Path) -> None:
    # when: an engine with two networks (one internal) and a published port, then stopped
    found = _in_namespace("clean", tmp_path)

    # then: while it ran there were Docker chains and bridges; after it, exactly what was there before,
    # and nothing of it under /run
    assert any(":DOCKER-ISOLATION-STAGE-1" in rule for rules in found["running"]["firewall"].values() for rule in rules)
    assert any(link.startswith("br-") for link in found["running"]["links"])
    assert found["after"] == found["before"]
    assert found["dockerd_alive"] is False
    assert found["mounts"] == []
    assert found["left"] is False
    # the data root stays for warm builds until `python -m tools.stack.engine --purge`
    assert found["kept_data"] is True
    assert found["purged"] is True
    sys.stdout.write(f"\nprivate engine: stopped with a running container in {found['stop_seconds']:.1f} s\n")


def test_a_second_engine_refuses_to_reset_anothers_rules_and_puts_them_back_when_allowed(tmp_path: Path) -> None:
    # when: a second private engine next to a busy one in the same network namespace
    found = _in_namespace("beside", tmp_path)

    # then: refused by default; with SHOP_DOCKER_SHARE_NETNS=1 it runs, and after it stops the first
    # engine's rules (its port forward, its internal network's isolation) are back in their order
    assert "another dockerd" in found["refused"]
    assert "SHOP_DOCKER_SHARE_NETNS=1" in found["refused"]
    assert found["second_owned"] is True
    assert found["after"] == found["before"]
    assert any("--dport 19092" in rule for rule in found["after"]["iptables-save nat"])
    assert found["first_answers"] is True


def test_a_given_engine_is_used_and_never_stopped(tmp_path: Path) -> None:
    # when: SHOP_DOCKER_HOST names a running engine
    found = _in_namespace("given", tmp_path)

    # then: it is used as it is, docker compose works through the private DOCKER_CONFIG, and it still answers
    assert found["owned"] is False
    assert found["same_host"] is True
    assert set(found["env"]) == {"DOCKER_HOST", "DOCKER_CONFIG", "COMPOSE_BAKE"}
    assert found["compose"].startswith("Docker Compose version v2.")
    assert found["first_answers"] is True
    assert "does not answer" in found["unreachable"]
    assert "is running; stop it first" in found["purge_refused"]
