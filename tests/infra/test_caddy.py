"""The edge (compose/caddy/Caddyfile): only /api/ reaches the gateway, only /admin/ and /static/ each admin;
/metrics and health stay inside."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from gateway_svc.tests.stubs import StubUpstream
from tests.infra.support import COMPOSE_DIR

CADDYFILE = COMPOSE_DIR / "caddy" / "Caddyfile"


def _blocks_around(directive: str) -> list[list[str]]:
    """For each line of the Caddyfile that starts with `directive`, the headers of the blocks it sits in."""
    stack: list[str] = []
    found: list[list[str]] = []
    for raw in CADDYFILE.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith(directive):
            found.append(list(stack))
        if line.endswith("{"):
            stack.append(line[:-1].strip())
        elif line == "}":
            stack.pop()
    return found


ADMINS = {"users": 5000, "products": 5001, "orders": 5002, "carts": 5003}


def test_caddy_proxies_only_the_public_api_to_the_gateway_and_only_the_admin_pages_to_each_service() -> None:
    # when
    proxies = _blocks_around("reverse_proxy")
    fallbacks = _blocks_around("respond 404")
    imports = _blocks_around("import admin")

    # then: the gateway behind `handle /api/*`, each admin behind `handle @admin` (its pages and static
    # files); everything else is answered 404 by Caddy itself
    assert proxies == [["(admin)", "handle @admin"], ["{$SHOP_DOMAIN:localhost}", "handle /api/*"]]
    assert fallbacks == [["(admin)", "handle"], ["{$SHOP_DOMAIN:localhost}", "handle"]]
    assert len(imports) == len(ADMINS)
    text = CADDYFILE.read_text()
    for service, port in ADMINS.items():
        upper = service.upper()
        assert f"{{$SHOP_DOMAIN:localhost}}:{{$CADDY_{upper}_ADMIN_PORT:{port}}} {{" in text
        assert f"import admin {{${upper}_ADMIN_UPSTREAM:{service}:{port}}}" in text


# -- the same file run by a real Caddy on loopback ports ---------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Edge:
    url: str
    root_ca: Path
    gateway: StubUpstream
    admin_url: str
    admin: StubUpstream

    def client(self, base_url: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=base_url or self.url, verify=str(self.root_ca), timeout=10.0)


@pytest.fixture
def edge(tmp_path: Path) -> Iterator[Edge]:
    caddy = shutil.which("caddy")
    if caddy is None:
        if os.environ.get("CI"):
            pytest.fail("caddy is required in CI (Debian package caddy; .ci/run installs it)")
        pytest.skip("caddy is not installed (apt-get install caddy)")
    gateway = StubUpstream()
    for path in ("/api/products", "/metrics", "/health/ready", "/health/live"):
        gateway.reply("GET", path, body={"served": path})
    admin = StubUpstream()
    for path in ("/admin/", "/admin/login/", "/static/admin/css/base.css", "/api/users/me", "/metrics"):
        admin.reply("GET", path, body={"served": path})
    https_port, admin_port = _free_port(), _free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        # Caddy keeps its local CA and certificates here, not in the machine's home directory.
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "SHOP_DOMAIN": "127.0.0.1",
        "CADDY_ADMIN": f"127.0.0.1:{_free_port()}",
        "CADDY_HTTP_PORT": str(_free_port()),
        "CADDY_HTTPS_PORT": str(https_port),
        "GATEWAY_UPSTREAM": gateway.url.removeprefix("http://"),
        # One admin site under test (the others are the same snippet); theirs get free ports too.
        "CADDY_USERS_ADMIN_PORT": str(admin_port),
        "USERS_ADMIN_UPSTREAM": admin.url.removeprefix("http://"),
        **{f"CADDY_{name.upper()}_ADMIN_PORT": str(_free_port()) for name in ADMINS if name != "users"},
    }
    log = (tmp_path / "caddy.log").open("wb")
    proc = subprocess.Popen(
        [caddy, "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    root_ca = tmp_path / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
    url = f"https://127.0.0.1:{https_port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (tmp_path / "caddy.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "caddy.log").read_text()
            if root_ca.exists():
                try:
                    httpx.get(f"{url}/api/products", verify=str(root_ca), timeout=1.0)
                    break
                except (httpx.TransportError, OSError):
                    pass
            time.sleep(0.05)
        gateway.received.clear()
        yield Edge(url=url, root_ca=root_ca, gateway=gateway, admin_url=f"https://127.0.0.1:{admin_port}", admin=admin)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()
        gateway.stop()
        admin.stop()


def test_real_caddy_forwards_the_api_with_the_client_address_it_saw(edge: Edge) -> None:
    # when: the client claims another address of its own
    with edge.client() as client:
        response = client.get("/api/products", headers={"X-Forwarded-For": "6.6.6.6"})

    # then
    assert (response.status_code, response.json()) == (200, {"served": "/api/products"})
    assert response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    [sent] = edge.gateway.calls("GET", "/api/products")
    assert sent.headers["x-forwarded-for"] == "127.0.0.1"
    assert sent.headers["x-forwarded-proto"] == "https"


@pytest.mark.parametrize(
    "path", ["/metrics", "/health/ready", "/health/live", "/api/../metrics", "/api/%2e%2e/metrics", "//metrics"]
)
def test_real_caddy_keeps_metrics_and_health_internal(edge: Edge, path: str) -> None:
    # when
    with edge.client() as client:
        response = client.request("GET", httpx.URL(edge.url).copy_with(raw_path=path.encode()))

    # then
    assert response.status_code == 404
    assert [r.path for r in edge.gateway.received if r.path != "/health/live"] == []
    assert b"served" not in response.content


@pytest.mark.parametrize("path", ["/admin/", "/admin/login/", "/static/admin/css/base.css"])
def test_real_caddy_serves_an_admin_over_https_on_its_own_port(edge: Edge, path: str) -> None:
    # when
    with edge.client(edge.admin_url) as client:
        response = client.get(path)

    # then: proxied to the service, with the scheme the admin's secure cookies need
    assert (response.status_code, response.json()) == (200, {"served": path})
    assert response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    [sent] = edge.admin.calls("GET", path)
    assert sent.headers["x-forwarded-proto"] == "https"


def test_real_caddy_sends_the_admin_root_to_the_admin(edge: Edge) -> None:
    with edge.client(edge.admin_url) as client:
        response = client.get("/")

    assert response.status_code in {301, 302, 308}
    assert response.headers["location"] == "/admin/"


@pytest.mark.parametrize("path", ["/api/users/me", "/metrics", "/health/ready", "/admin/../metrics"])
def test_real_caddy_serves_nothing_but_the_admin_on_an_admin_port(edge: Edge, path: str) -> None:
    with edge.client(edge.admin_url) as client:
        response = client.request("GET", httpx.URL(edge.admin_url).copy_with(raw_path=path.encode()))

    assert response.status_code == 404
    assert edge.admin.received == []
