"""Every port of `make run` in one place, each overridable by an environment variable (README's ports table).

Settings, the launcher (tools/shoprun.py), its Prometheus (tools/monitoring.py), the benchmarks and the
tests read them here; compose keeps the same numbers inside its containers (tests/infra/test_ports.py
checks they agree). `SHOP_GATEWAY_PORT=3100 make run` moves the gateway; the suites that start the
shop (e2e, alerts, infra's live `make run`) use `for_tests()`, a block of their own, so they run while
`make run` is up.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass

# Where the tests' block starts (SHOP_TEST_PORT_BASE moves it): below Linux's ephemeral range
# (32768-60999), so no outgoing connection of the machine takes one of its ports by chance.
TEST_PORT_BASE = 23000


@dataclass(frozen=True)
class Ports:
    """The loopback ports of one shop; the field `products_grpc` is read from SHOP_PRODUCTS_GRPC_PORT, etc."""

    gateway: int = 3000
    users: int = 5000
    products: int = 5001
    orders: int = 5002
    carts: int = 5003
    products_grpc: int = 50051
    kafka: int = 9092
    # /metrics of the processes without an HTTP server of their own.
    products_grpc_metrics: int = 9400
    users_relay_metrics: int = 9401
    orders_relay_metrics: int = 9402
    carts_consumer_metrics: int = 9403
    products_consumer_metrics: int = 9404
    orders_expirer_metrics: int = 9405
    prometheus: int = 9090
    alertmanager: int = 9093

    @staticmethod
    def variable(field: str) -> str:
        """The environment variable that overrides `field`: SHOP_<FIELD>_PORT."""
        return f"SHOP_{field.upper()}_PORT"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Ports:
        """The defaults with every SHOP_<FIELD>_PORT of `environ` (the process environment if None) applied."""
        source = os.environ if environ is None else environ  # noqa: TID251 - read before Django's settings exist
        overrides = {}
        for item in dataclasses.fields(cls):
            if value := source.get(cls.variable(item.name)):
                port = int(value)
                if not 0 < port < 65536:
                    raise ValueError(f"{cls.variable(item.name)}={value}: not a TCP port")
                overrides[item.name] = port
        return cls(**overrides)

    @classmethod
    def block(cls, base: int) -> Ports:
        """Every port in one consecutive block from `base`, in field order."""
        names = [item.name for item in dataclasses.fields(cls)]
        return cls(**{name: base + index for index, name in enumerate(names)})

    def environ(self) -> dict[str, str]:
        """SHOP_<FIELD>_PORT for every port: what a child process needs to agree with this one."""
        return {self.variable(name): str(port) for name, port in dataclasses.asdict(self).items()}

    def all(self) -> dict[str, int]:
        """Field name -> port."""
        return dataclasses.asdict(self)

    def worker_metrics(self) -> dict[str, int]:
        """The processes without an HTTP server of their own (gRPC server, relays, consumers, orders' expirer)
        by their name in make run and compose (`products-grpc`, `users-relay`, ...) -> their /metrics port."""
        return {
            name.removesuffix("_metrics").replace("_", "-"): port
            for name, port in self.all().items()
            if name.endswith("_metrics")
        }

    def service(self, name: str) -> int:
        """The HTTP port of `name`: gateway, users, products, orders or carts."""
        if name not in {"gateway", "users", "products", "orders", "carts"}:
            raise KeyError(name)
        port: int = getattr(self, name)
        return port

    def url(self, name: str) -> str:
        """http://127.0.0.1:<port> of the HTTP service `name`."""
        return f"http://127.0.0.1:{self.service(name)}"


DEFAULT = Ports()


def for_tests(environ: Mapping[str, str] | None = None) -> Ports:
    """The block the suites that start the shop use: TEST_PORT_BASE, or SHOP_TEST_PORT_BASE when set."""
    source = os.environ if environ is None else environ  # noqa: TID251 - the tests' process environment
    return Ports.block(int(source.get("SHOP_TEST_PORT_BASE") or TEST_PORT_BASE))
