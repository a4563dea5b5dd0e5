"""The compose stack, checked without a Docker engine: health, restarts, dependencies, secrets, env."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

from shopkit.ports import DEFAULT
from tests.infra.support import (
    COMPOSE_DIR,
    COMPOSE_FILE,
    ENV_EXAMPLE,
    ROOT,
    docker_compose,
    load_compose,
    load_env_example,
)
from tools.stack.prepare import prepare

# Images without a shell or HTTP client: their readiness is watched from outside instead.
NO_SHELL_IMAGES = {
    "loki": "loki-gateway probes http://loki:3100/ready",
    "tempo": "Prometheus scrapes it: up{job='tempo'} and TargetDown",
    "redis-exporter": "Prometheus scrapes it: up{job='redis-exporter'} and TargetDown",
}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|KEY|TOKEN|HASH")
# Names that contain KEY but hold no secret: the request.META key the gateway reads client IPs from.
NOT_SECRETS = {"RATELIMIT_IP_META_KEY"}
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}")
SHOP_PROCESSES = {
    "gateway": "uvicorn gateway_svc.asgi:application",
    "users": "gunicorn user_svc.wsgi:application",
    "products": "gunicorn product_svc.wsgi:application",
    "orders": "gunicorn order_svc.wsgi:application",
    "carts": "gunicorn cart_svc.wsgi:application",
    "products-grpc": "python -m product_svc.grpc_server",
    "users-relay": "python user_svc/manage.py outbox_relay",
    "orders-relay": "python order_svc/manage.py outbox_relay",
    "carts-consumer": "python cart_svc/manage.py consume_events",
    "products-consumer": "python product_svc/manage.py consume_events",
    "orders-expirer": "python order_svc/manage.py expire_pending_orders --every 60",
}


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = load_compose()["services"]
    return found


def is_one_shot(service: dict[str, Any]) -> bool:
    return service.get("restart") == "no"


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    assert isinstance(env, dict), "environment is written as a map"
    return {k: str(v) for k, v in env.items()}


def test_every_long_running_service_has_a_health_check_and_a_restart_policy() -> None:
    for name, service in services().items():
        if is_one_shot(service):
            continue
        assert service.get("restart") in {"unless-stopped", "always", "on-failure"}, name
        if name in NO_SHELL_IMAGES:
            assert "healthcheck" not in service, name
            continue
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"


def test_images_without_a_shell_are_watched_from_outside() -> None:
    loki_gateway = services()["loki-gateway"]["healthcheck"]["test"]
    scrape_config = (COMPOSE_DIR / "prometheus" / "prometheus.yml").read_text()

    assert "http://loki:3100/ready" in " ".join(loki_gateway)
    assert "job_name: tempo" in scrape_config


def test_every_dependency_waits_on_a_condition() -> None:
    for name, service in services().items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on must use the long form with conditions"
        for target, spec in depends.items():
            assert target in services(), f"{name} depends on unknown {target}"
            assert spec.get("condition") in {
                "service_healthy",
                "service_completed_successfully",
                "service_started",
            }, (name, target)
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in services()[target], f"{name} waits for {target}, which has no health check"
            if spec["condition"] == "service_completed_successfully":
                assert is_one_shot(services()[target]), (name, target)


def test_each_shop_process_runs_its_command_after_its_migrations() -> None:
    for name, expected in SHOP_PROCESSES.items():
        service = services()[name]
        command = " ".join(str(part) for part in service["command"])
        assert command.startswith(expected), (name, command)
        domain = {"gateway": None}.get(name, name.split("-")[0])
        if domain:
            assert service["depends_on"][f"{domain}-migrate"]["condition"] == "service_completed_successfully"
            migrate = " ".join(services()[f"{domain}-migrate"]["command"])
            assert migrate.endswith("manage.py migrate --noinput"), migrate


def test_shop_processes_get_their_required_environment() -> None:
    common = {"DJANGO_SECRET_KEY", "SHOP_ENV", "DEBUG", "ALLOWED_HOSTS", "LOG_FORMAT", "LOG_LEVEL"}
    common |= {"KAFKA_BOOTSTRAP_SERVERS", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_TRACES_SAMPLER_ARG", "JWT_JWKS_URL"}
    for name in SHOP_PROCESSES:
        env = environment(services()[name])
        assert common <= env.keys(), (name, common - env.keys())
        assert env["SHOP_ENV"] == "production"
        assert env["DEBUG"] == "false"
        assert env["LOG_FORMAT"] == "json"
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://tempo:4318"
        if name != "gateway":
            assert env["DATABASE_URL"].startswith("postgres://"), name
        if name.endswith(("-relay", "-consumer", "-grpc", "-expirer")):
            assert "METRICS_PORT" in env, name
        if name in {"users", "products", "orders", "carts", "gateway"}:
            assert env["PROMETHEUS_MULTIPROC_DIR"] == "/run/prometheus", name
            assert any(
                v.get("target") == "/run/prometheus" and v.get("type") == "tmpfs" for v in services()[name]["volumes"]
            )
    gateway = environment(services()["gateway"])
    assert {gateway[k] for k in ("USERS_URL", "PRODUCTS_URL", "ORDERS_URL", "CARTS_URL")} == {
        "http://users:5000",
        "http://products:5001",
        "http://orders:5002",
        "http://carts:5003",
    }
    for name in ("orders", "carts"):
        assert environment(services()[name])["PRODUCTS_GRPC_TARGET"] == "products-grpc:50051"
    assert environment(services()["users"])["JWT_PRIVATE_KEY_FILE"] == "/run/secrets/jwt_private_key"


def test_no_secret_is_written_in_the_compose_file() -> None:
    for name, service in services().items():
        for key, value in environment(service).items():
            if SECRET_NAME.search(key) and not key.endswith("_FILE") and key not in NOT_SECRETS:
                assert re.fullmatch(r"\$\{[A-Z0-9_]+:\?[^}]*\}", value), f"{name}.{key} must be a required ${{VAR:?}}"
            # Credentials inside URLs (postgres://user:password@host) come from variables too.
            for password in re.findall(r"://[^:/@\s]+:([^@\s]+)@", value):
                assert password.startswith("${"), f"{name}.{key} has a literal password"


def strings(node: Any) -> list[str]:
    """Every string in the parsed compose file (keys included), so comments do not count."""
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in (*strings(k), *strings(v))]
    if isinstance(node, list):
        return [s for item in node for s in strings(item)]
    return [node] if isinstance(node, str) else []


def interpolations() -> list[re.Match[str]]:
    return [m for text in strings(load_compose()) for m in INTERPOLATION.finditer(text.replace("$$", ""))]


def test_every_variable_the_compose_file_uses_is_documented_in_the_env_example() -> None:
    used = {m.group(1) for m in interpolations()}
    used |= {s["environment"] for s in load_compose().get("secrets", {}).values() if "environment" in s}
    documented = set(load_env_example())

    assert used - documented == set()
    assert documented - used == set(), "documented but unused"


def test_required_variables_have_non_empty_example_values() -> None:
    required = {m.group(1) for m in interpolations() if m.group(2) == ":?"}
    example = load_env_example()

    assert all(example[name] for name in required), [name for name in required if not example[name]]


def test_state_lives_in_named_volumes_and_everything_shares_the_declared_networks() -> None:
    compose = load_compose()
    declared = set(compose["volumes"])
    used = set()
    for name, service in services().items():
        for volume in service.get("volumes", []):
            if isinstance(volume, dict):
                assert volume["type"] == "tmpfs", name
                continue
            source = INTERPOLATION.sub(lambda m: m.group(3) or "", volume).split(":", 1)[0]
            if source.startswith((".", "/")):
                assert volume.endswith(":ro"), f"{name}: bind mounts are read-only configuration ({volume})"
                continue
            assert source in declared, f"{name}: {source} is not a declared named volume"
            used.add(source)
        assert set(service.get("networks", [])) <= set(compose["networks"]), name
    assert used == declared
    assert compose["networks"]["logs"]["internal"] is True
    assert services()["loki"]["networks"] == ["logs"], "Loki is reachable only through loki-gateway"


def test_postgres_per_service_on_the_documented_host_ports() -> None:
    expected = {"users-db": 5433, "products-db": 5434, "orders-db": 5435, "carts-db": 5436}
    for name, port in expected.items():
        service = services()[name]
        assert service["image"].startswith("postgres:16"), name
        assert service["ports"] == [f"127.0.0.1:{port}:5432"], name


def test_kafka_runs_in_kraft_mode_and_the_topics_are_created() -> None:
    kafka = environment(services()["kafka"])
    init = services()["kafka-init"]["command"][0]

    assert not [k for k in kafka if "ZOOKEEPER" in k]
    assert not [name for name in services() if "zookeeper" in name]
    assert kafka["KAFKA_PROCESS_ROLES"] == "broker,controller"
    for topic in ("shop.users", "shop.orders", "shop.users.dlq", "shop.orders.dlq"):
        assert topic in init


def test_grafana_gets_its_provisioning_and_dashboards() -> None:
    volumes = services()["grafana"]["volumes"]

    assert "../grafana/provisioning:/etc/grafana/provisioning:ro" in volumes
    assert "../grafana/dashboards:/etc/grafana/dashboards:ro" in volumes
    for volume in volumes:
        source = volume.split(":", 1)[0]
        if source.startswith("."):
            assert (COMPOSE_DIR / source).resolve().exists(), volume


def test_every_mounted_config_file_exists() -> None:
    for name, service in services().items():
        for volume in service.get("volumes", []):
            if isinstance(volume, str) and volume.startswith("./"):
                assert (COMPOSE_DIR / volume.split(":", 1)[0]).exists(), (name, volume)
    assert (COMPOSE_DIR / "Dockerfile").is_file()
    assert (COMPOSE_DIR / "healthcheck.py").is_file()


def test_docker_compose_config_accepts_the_stack_with_the_example_env(tmp_path: Path) -> None:
    compose = docker_compose()
    env_file = tmp_path / ".env"
    # The JWT keys and the gRPC certificates are file secrets; `config` only needs them to exist.
    secrets = tmp_path / "secrets"
    (secrets / "grpc").mkdir(parents=True)
    grpc_files = [
        f"grpc/{name}"
        for name in ("ca.crt", *(f"{s}.{e}" for s in ("products", "orders", "carts") for e in ("crt", "key")))
    ]
    for name in ("jwt_private.pem", "jwt_previous_public.pem", *grpc_files):
        (secrets / name).write_text("placeholder for docker compose config\n")
    env_file.write_text(f"{ENV_EXAMPLE.read_text()}\nSHOP_SECRETS_DIR={secrets}\n")
    result = subprocess.run(
        [*compose, "--env-file", str(env_file), "-f", str(COMPOSE_FILE), "--profile", "*", "config", "--quiet"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_gateway_believes_forwarded_for_only_from_the_edge_network() -> None:
    compose = load_compose()
    gateway, caddy = services()["gateway"], services()["caddy"]
    env = environment(gateway)
    [subnet] = [pool["subnet"] for pool in compose["networks"]["edge"]["ipam"]["config"]]
    on_edge = {name for name, service in services().items() if "edge" in service.get("networks", [])}

    # uvicorn does not rewrite the client address itself; the gateway trusts Caddy's network only
    assert "--no-proxy-headers" in gateway["command"]
    assert env["TRUSTED_PROXIES"] == subnet
    assert {"FORWARDED_ALLOW_IPS", "RATELIMIT_IP_META_KEY"} & env.keys() == set()
    # that network holds Caddy and the gateway alone, and the gateway is reachable from outside only through it
    assert on_edge == {"caddy", "gateway"}
    assert caddy["networks"] == ["edge", "staff"]
    # the staff network (the admins behind Caddy) does not hold the gateway
    on_staff = {name for name, service in services().items() if "staff" in service.get("networks", [])}
    assert on_staff == {"caddy", "users", "products", "orders", "carts"}
    assert "ports" not in gateway


def test_worker_metrics_listen_on_the_network_only_where_prometheus_scrapes_them() -> None:
    workers = {name: environment(s) for name, s in services().items() if "METRICS_PORT" in environment(s)}

    assert set(workers) == set(DEFAULT.worker_metrics())
    assert {name: env.get("METRICS_BIND") for name, env in workers.items()} == dict.fromkeys(workers, "0.0.0.0")  # noqa: S104


def _depends_on(name: str) -> set[str]:
    """Every service `name` waits for, directly or through others."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        for dependency in services()[todo.pop()].get("depends_on", {}):
            if dependency not in seen:
                seen.add(dependency)
                todo.append(dependency)
    return seen


def test_the_shop_image_is_built_once_and_never_pulled() -> None:
    # given
    builders = {name for name, service in services().items() if "build" in service}
    shop = {name for name, service in services().items() if service.get("image") == "${SHOP_IMAGE:-shop:local}"}

    # then: one job builds it (the same image 14 times was 81 s cold, pip run in parallel) and every other
    # Shop process waits for that job and never tries a registry for it
    assert builders == {"shop-image"}
    assert services()["shop-image"]["build"] == {"context": "..", "dockerfile": "compose/Dockerfile"}
    for name in shop - builders:
        assert services()[name].get("pull_policy") == "never", name
        assert "shop-image" in _depends_on(name), name


def test_shop_health_checks_reach_the_service_by_its_name_as_its_callers_do() -> None:
    # A probe to 127.0.0.1 inside the container stayed green while products' gRPC server was unreachable
    # from every other container.
    for name in set(SHOP_PROCESSES):
        test = " ".join(services()[name]["healthcheck"]["test"])
        assert "127.0.0.1" not in test, (name, test)
        assert "localhost" not in test, (name, test)
        assert f"{name}:" in test, (name, test)


def test_orders_and_carts_do_not_wait_for_users_to_be_healthy() -> None:
    # Health-check chains five deep took 85 s to a healthy stack; JWKS is fetched when first needed.
    for name in ("products", "orders", "carts", "products-grpc"):
        assert "users" not in services()[name].get("depends_on", {}), name


def test_the_grafana_stack_is_one_profile_and_everything_else_starts_by_default() -> None:
    profiled = {name: service["profiles"] for name, service in services().items() if "profiles" in service}

    assert profiled == {
        **dict.fromkeys(["loki", "loki-gateway", "alloy", "tempo", "grafana", "docker-socket-proxy"], ["grafana"]),
        **dict.fromkeys(["users-seed", "products-seed"], ["demo"]),
        **dict.fromkeys(["pgadmin", "redisinsight"], ["tools"]),
    }


def test_alertmanager_can_reach_a_receiver_on_the_host_on_linux() -> None:
    assert "host.docker.internal:9000" in load_env_example()["ALERTMANAGER_WEBHOOK_URL"]
    assert services()["alertmanager"]["extra_hosts"] == ["host.docker.internal:host-gateway"]


def test_staff_reach_every_admin_over_https_on_loopback_through_caddy() -> None:
    ports = services()["caddy"]["ports"]
    for service, port in {"users": 5000, "products": 5001, "orders": 5002, "carts": 5003}.items():
        upper = service.upper()
        assert f"127.0.0.1:${{{upper}_ADMIN_PORT:-{port}}}:{port}" in ports, service
        env = environment(services()[service])
        assert env["CSRF_TRUSTED_ORIGINS"] == f"https://${{SHOP_DOMAIN:-localhost}}:${{{upper}_ADMIN_PORT:-{port}}}"
        assert env["BEHIND_TLS_PROXY"] == "true"
        assert "ports" not in services()[service]


def _health_gated_depth(name: str) -> int:
    """How many containers deep the start of `name` waits for health checks or completed jobs."""
    waits = services()[name].get("depends_on", {})
    gated = [d for d, spec in waits.items() if spec.get("condition") != "service_started"]
    return 1 + max((_health_gated_depth(d) for d in gated), default=0)


def test_the_stack_is_healthy_after_a_short_chain_of_health_checks() -> None:
    # Five levels of 15 s health-check intervals took 85 s to a healthy stack; the edge now waits for
    # databases -> image and migrations -> services -> gateway, with probes every 10 s at most.
    assert _health_gated_depth("caddy") <= 5
    assert _health_gated_depth("gateway") <= 4
    for name, service in services().items():
        interval = service.get("healthcheck", {}).get("interval", "0s")
        assert int(interval.rstrip("s")) <= 15, (name, interval)
    for name in ("users", "products", "orders", "carts", "gateway", "products-grpc"):
        assert services()[name]["healthcheck"]["interval"] == "10s", name


def test_the_readme_names_the_full_stacks_consoles_as_compose_serves_them() -> None:
    readme = (ROOT / "README.md").read_text()
    grafana = services()["grafana"]

    # Grafana is plain HTTP on loopback (its root URL says so), the admins HTTPS through Caddy
    assert environment(grafana)["GF_SERVER_ROOT_URL"].startswith("http://")
    assert "https://localhost:3001" not in readme
    assert "<http://127.0.0.1:3001>" in readme
    assert "<https://localhost:5000/admin/>" in readme


# --- the data stores from the server side: exporters (default) and consoles (`tools` profile) -----------
DATABASES = ("users", "products", "orders", "carts")
EXPORTERS = (*(f"{name}-db-exporter" for name in DATABASES), "redis-exporter")
CONSOLES = {"pgadmin": ("PGADMIN_PORT", "5050", 80), "redisinsight": ("REDISINSIGHT_PORT", "5540", 5540)}


def _on(network: str) -> set[str]:
    return {name for name, service in services().items() if network in service.get("networks", [])}


def test_each_database_has_its_exporter_with_its_owner_and_the_password_as_a_secret_file() -> None:
    for name in DATABASES:
        exporter, database = services()[f"{name}-db-exporter"], services()[f"{name}-db"]
        env = environment(exporter)

        assert exporter["image"].startswith("quay.io/prometheuscommunity/postgres-exporter:v"), name
        assert "profiles" not in exporter, "exporters start by default"
        assert env["DATA_SOURCE_URI"] == f"{name}-db:5432/{environment(database)['POSTGRES_DB']}?sslmode=disable"
        assert env["DATA_SOURCE_USER"] == environment(database)["POSTGRES_USER"]
        # the database's own password, through a secret file made from the same variable
        assert env["DATA_SOURCE_PASS_FILE"] == f"/run/secrets/{name}_db_password"
        assert exporter["secrets"] == [f"{name}_db_password"]
        variable = f"{name.upper()}_DB_PASSWORD"
        assert environment(database)["POSTGRES_PASSWORD"] == f"${{{variable}:?set {variable}}}"
        assert load_compose()["secrets"][f"{name}_db_password"] == {"environment": variable}
        assert not {k for k in env if k.startswith("DATA_SOURCE_PASS") and not k.endswith("_FILE")}
        assert exporter["depends_on"] == {f"{name}-db": {"condition": "service_healthy"}}
    redis_exporter = environment(services()["redis-exporter"])
    assert services()["redis-exporter"]["image"].startswith("oliver006/redis_exporter:v")
    assert redis_exporter["REDIS_ADDR"] == "redis://redis:6379"
    assert redis_exporter["REDIS_PASSWORD"] == environment(services()["redis"])["REDIS_PASSWORD"]


def test_exporters_are_only_on_internal_networks_prometheus_scrapes_them_on_and_publish_nothing() -> None:
    compose = load_compose()

    for name in EXPORTERS:
        assert services()[name]["networks"] == ["datastores", "metrics"], name
        assert "ports" not in services()[name], name
    for network in ("datastores", "metrics"):
        assert compose["networks"][network]["internal"] is True, network
    # metrics: Prometheus and the exporters only; datastores: the data stores, their exporters, the consoles
    assert _on("metrics") == {"prometheus", *EXPORTERS}
    assert _on("datastores") == {*(f"{n}-db" for n in DATABASES), "redis", *EXPORTERS, *CONSOLES}


def test_pgadmin_and_redisinsight_are_only_in_the_tools_profile_and_only_on_loopback() -> None:
    compose = load_compose()

    for name, (variable, default, container_port) in CONSOLES.items():
        console = services()[name]
        assert console["profiles"] == ["tools"], name
        assert console["ports"] == [f"127.0.0.1:${{{variable}:-{default}}}:{container_port}"], name
        assert console["networks"] == ["datastores", "tools"], name
    # the tools network (the one their ports are published from) holds them alone; nothing reaches shop
    assert _on("tools") == set(CONSOLES)
    assert "internal" not in compose["networks"]["tools"]
    # every published port outside Caddy's public two is on loopback
    for name, service in services().items():
        for port in service.get("ports", []):
            if name == "caddy" and port.startswith(("${HTTP_PORT", "${HTTPS_PORT")):
                continue
            assert port.startswith("127.0.0.1:"), (name, port)


def test_pgadmin_signs_in_with_the_env_files_account_and_lists_the_four_databases() -> None:
    pgadmin = services()["pgadmin"]
    env = environment(pgadmin)
    servers = json.loads((COMPOSE_DIR / "pgadmin" / "servers.json").read_text())["Servers"]

    assert env["PGADMIN_DEFAULT_EMAIL"] == "${PGADMIN_DEFAULT_EMAIL:?set PGADMIN_DEFAULT_EMAIL}"
    assert env["PGADMIN_DEFAULT_PASSWORD_FILE"] == "/run/secrets/pgadmin_password"
    assert load_compose()["secrets"]["pgadmin_password"] == {"environment": "PGADMIN_DEFAULT_PASSWORD"}
    assert "./pgadmin/servers.json:/pgadmin4/servers.json:ro" in pgadmin["volumes"]
    assert env["PGADMIN_SERVER_JSON_FILE"] == "/pgadmin4/servers.json"
    # each database as its services reach it: host, port, database and owner of the compose service
    found = {(s["Host"], s["Port"], s["MaintenanceDB"], s["Username"]) for s in servers.values()}
    expected = set()
    for name in DATABASES:
        database = environment(services()[f"{name}-db"])
        expected.add((f"{name}-db", 5432, database["POSTGRES_DB"], database["POSTGRES_USER"]))
    assert found == expected
    # no password is written there: each is asked for once (the owner's, from compose/.env)
    assert not [s for s in servers.values() if {"Password", "PassFile"} & s.keys()]
    redisinsight = environment(services()["redisinsight"])
    assert (redisinsight["RI_REDIS_HOST"], redisinsight["RI_REDIS_PORT"]) == ("redis", "6379")
    assert redisinsight["RI_REDIS_PASSWORD"] == environment(services()["redis"])["REDIS_PASSWORD"]


def test_a_fresh_env_file_gets_a_generated_pgadmin_password(tmp_path: Path) -> None:
    # given / when: what `make up` writes
    first = prepare(tmp_path / "a" / ".env", tmp_path / "a" / "secrets")
    second = prepare(tmp_path / "b" / ".env", tmp_path / "b" / "secrets")

    # then: a random password per env file (hex, like the others), never the example's placeholder
    for stack in (first, second):
        assert re.fullmatch(r"[0-9a-f]{48}", stack.env["PGADMIN_DEFAULT_PASSWORD"])
        assert stack.env["PGADMIN_DEFAULT_EMAIL"] == load_env_example()["PGADMIN_DEFAULT_EMAIL"]
    assert first.env["PGADMIN_DEFAULT_PASSWORD"] != second.env["PGADMIN_DEFAULT_PASSWORD"]
    # pgAdmin refuses to start with an address its check does not accept
    assert re.fullmatch(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", first.env["PGADMIN_DEFAULT_EMAIL"])
