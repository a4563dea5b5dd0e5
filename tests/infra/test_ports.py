"""Ports are defined once (shopkit.ports): compose and the README agree with it, and SHOP_<NAME>_PORT moves one."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from shopkit.ports import DEFAULT, TEST_PORT_BASE, Ports, for_tests
from tests.infra.support import ROOT
from tools.shoprun import Stack

COMPOSE = ROOT / "compose" / "docker-compose.yml"
COMPOSE_PROMETHEUS = ROOT / "compose" / "prometheus" / "prometheus.yml"
DOMAIN_SERVICES = ("users", "products", "orders", "carts")


def _compose() -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())["services"]
    return services


def _flag(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def test_composes_container_ports_are_the_defaults_of_shopkit_ports() -> None:
    # given
    services = _compose()

    # when: each port as compose's commands, variables and health checks give it
    seen = {
        "gateway": int(_flag(services["gateway"]["command"], "--port")),
        **{name: int(_flag(services[name]["command"], "-b").rsplit(":", 1)[1]) for name in DOMAIN_SERVICES},
        "products_grpc": int(services["orders"]["environment"]["PRODUCTS_GRPC_TARGET"].rsplit(":", 1)[1]),
        "kafka": int(services["users"]["environment"]["KAFKA_BOOTSTRAP_SERVERS"].rsplit(":", 1)[1]),
        **{
            f"{name.replace('-', '_')}_metrics": int(services[name]["environment"]["METRICS_PORT"])
            for name in DEFAULT.worker_metrics()
        },
        "prometheus": int(services["prometheus"]["ports"][0].rsplit(":", 1)[1]),
        "alertmanager": int(services["alertmanager"]["ports"][0].rsplit(":", 1)[1]),
    }

    # then
    assert seen == DEFAULT.all()
    assert services["products-grpc"]["healthcheck"]["test"][-1] == f"products-grpc:{DEFAULT.products_grpc}"


def test_composes_prometheus_scrapes_each_process_on_its_default_port() -> None:
    jobs = {
        job["job_name"]: job["static_configs"][0]["targets"]
        for job in yaml.safe_load(COMPOSE_PROMETHEUS.read_text())["scrape_configs"]
    }

    assert jobs["gateway"] == [f"gateway:{DEFAULT.gateway}"]
    for name in DOMAIN_SERVICES:
        assert jobs[name] == [f"{name}:{DEFAULT.service(name)}"]
    for job, port in DEFAULT.worker_metrics().items():
        assert jobs[job] == [f"{job}:{port}"]
    assert jobs["prometheus"] == [f"localhost:{DEFAULT.prometheus}"]
    assert jobs["alertmanager"] == [f"alertmanager:{DEFAULT.alertmanager}"]


def test_the_readme_ports_table_names_every_port_and_its_variable() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Ports") : readme.index("\n\n", readme.index("| process |"))]

    named = set(re.findall(r"`(SHOP_[A-Z_]+_PORT)`", table))

    assert named == {Ports.variable(name) for name in DEFAULT.all()}
    assert "`SHOP_TEST_PORT_BASE`" in readme


def test_a_port_variable_moves_that_port_for_every_process_of_make_run(tmp_path: Path) -> None:
    # given
    environ = {"PATH": "/usr/bin", "SHOP_USERS_PORT": "5100", "SHOP_GATEWAY_PORT": "3100"}

    # when
    stack = Stack(environ=environ, stream=False, var_dir=tmp_path)
    plan = {p.name: p for p in stack.plan()}

    # then: users listens there, and everyone who calls it (or links its admin) is told
    assert plan["users"].argv[-2:] == ["-b", "127.0.0.1:5100"]
    assert plan["users"].health_url == "http://127.0.0.1:5100/health/ready"
    assert plan["gateway"].argv[plan["gateway"].argv.index("--port") + 1] == "3100"
    assert stack.base_env["USERS_URL"] == "http://127.0.0.1:5100"
    assert stack.base_env["SHOP_USERS_PORT"] == "5100"  # the children's settings derive their defaults from it
    assert plan["products"].argv[-1] == f"127.0.0.1:{DEFAULT.products}"


def test_a_services_settings_derive_their_defaults_from_the_port_variables() -> None:
    # given
    environ = {**os.environ, "DJANGO_SETTINGS_MODULE": "order_svc.settings", "SHOP_CARTS_PORT": "6003"}
    environ.update({"SHOP_PRODUCTS_GRPC_PORT": "60051", "SHOP_USERS_PORT": "6000", "SHOP_ORDERS_PORT": "6002"})
    for name in ("CARTS_URL", "PRODUCTS_GRPC_TARGET", "USERS_URL", "ORDERS_ADMIN_URL"):
        environ.pop(name, None)
    script = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.SERVICE_PORT, s.CARTS_URL, s.PRODUCTS_GRPC_TARGET, s.USERS_URL, "
        "s.SHOP_ADMIN_CONSOLES['orders']]))"
    )

    # when
    result = subprocess.run([sys.executable, "-c", script], env=environ, cwd=ROOT, capture_output=True, text=True)

    # then
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        6002,
        "http://127.0.0.1:6003",
        "127.0.0.1:60051",
        "http://127.0.0.1:6000",
        "http://127.0.0.1:6002/admin/",
    ]


def test_a_port_variable_overrides_its_default_and_a_bad_one_is_refused() -> None:
    ports = Ports.from_env({"SHOP_CARTS_PORT": "6003", "SHOP_KAFKA_PORT": "19092"})

    assert ports.url("carts") == "http://127.0.0.1:6003"
    assert ports.kafka == 19092
    assert ports.users == DEFAULT.users
    with pytest.raises(ValueError, match="SHOP_USERS_PORT=70000: not a TCP port"):
        Ports.from_env({"SHOP_USERS_PORT": "70000"})


def test_the_tests_block_shares_no_port_with_make_run_and_moves_with_its_variable() -> None:
    block = for_tests({})

    assert sorted(block.all().values()) == list(range(TEST_PORT_BASE, TEST_PORT_BASE + len(DEFAULT.all())))
    assert not set(block.all().values()) & set(DEFAULT.all().values())
    assert for_tests({"SHOP_TEST_PORT_BASE": "24000"}).gateway == 24000
