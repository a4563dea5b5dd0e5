"""Real customers of `make bench` (an asyncio client through the gateway): sign-up, checkouts, reads, events."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from shopkit.ports import Ports

GATEWAY = Ports.from_env().url("gateway")
# Customers checking out at once (the checkout row).
CUSTOMERS = 20
STAFF = (
    os.environ.get("SHOP_DEMO_STAFF_EMAIL", "staff@example.com"),
    os.environ.get("SHOP_DEMO_STAFF_PASSWORD", "staff-demo-pass"),
)


@dataclass
class Customers:
    tokens: list[str]
    products: list[str]
    staff_token: str


async def make_customers(count: int) -> Customers:
    async with httpx.AsyncClient(base_url=GATEWAY, timeout=30) as client:
        staff = await client.post("/api/auth/login", json={"email": STAFF[0], "password": STAFF[1]})
        staff.raise_for_status()
        staff_token = staff.json()["access"]
        page = await client.get("/api/products", params={"page_size": 20, "in_stock": "true"})
        page.raise_for_status()
        products = [item["id"] for item in page.json()["items"]]
        # Enough stock that the benchmark never measures "sold out".
        for product_id in products:
            patched = await client.patch(
                f"/api/products/{product_id}",
                json={"stock_on_hand": 1_000_000},
                headers={"Authorization": f"Bearer {staff_token}"},
            )
            patched.raise_for_status()

        async def register(i: int) -> str:
            email = f"bench-{uuid.uuid4().hex[:10]}-{i}@example.com"
            password = f"bench-pass-{uuid.uuid4().hex}"
            registered = await client.post("/api/auth/register", json={"email": email, "password": password})
            registered.raise_for_status()
            tokens = await client.post("/api/auth/login", json={"email": email, "password": password})
            tokens.raise_for_status()
            return str(tokens.json()["access"])

        tokens = [await register(i) for i in range(count)]
        return Customers(tokens, products, staff_token)


@dataclass
class Journeys:
    latencies_ms: list[float] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)

    def fail(self, reason: str) -> None:
        self.failures[reason] = self.failures.get(reason, 0) + 1


# One step of one customer: the client, the customer's auth header, the product, where to record it.
Step = Callable[[httpx.AsyncClient, dict[str, str], str, Journeys], Awaitable[None]]


async def _every_customer(customers: Customers, seconds: float, step: Step) -> tuple[float, Journeys]:
    """Every customer runs `step` on the products in turn for `seconds`; returns steps timed per second."""
    result = Journeys()
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=len(customers.tokens) * 2)
    async with httpx.AsyncClient(base_url=GATEWAY, timeout=30, limits=limits) as client:

        async def customer(i: int, token: str) -> None:
            auth = {"Authorization": f"Bearer {token}"}
            n = 0
            while time.monotonic() < deadline:
                product = customers.products[(i + n) % len(customers.products)]
                n += 1
                await step(client, auth, product, result)

        started = time.monotonic()
        await asyncio.gather(*(customer(i, t) for i, t in enumerate(customers.tokens)))
        took = time.monotonic() - started
    return len(result.latencies_ms) / took, result


async def _checkout(client: httpx.AsyncClient, auth: dict[str, str], product: str, result: Journeys) -> None:
    added = await client.post("/api/cart/items", json={"product_id": product, "quantity": 1}, headers=auth)
    if added.status_code != 200:
        result.fail(f"add {added.status_code}")
        return
    started = time.perf_counter()
    order = await client.post("/api/orders", headers={**auth, "Idempotency-Key": str(uuid.uuid4())}, json={})
    elapsed = (time.perf_counter() - started) * 1000
    if order.status_code in (200, 201):
        result.latencies_ms.append(elapsed)
    else:
        result.fail(f"checkout {order.status_code}")


async def _read(client: httpx.AsyncClient, auth: dict[str, str], product: str, result: Journeys) -> None:
    started = time.perf_counter()
    response = await client.get(f"/api/products/{product}", headers=auth)
    if response.status_code == 200:
        result.latencies_ms.append((time.perf_counter() - started) * 1000)
    else:
        result.fail(f"read {response.status_code}")


async def checkouts(customers: Customers, seconds: float) -> tuple[float, Journeys]:
    """Each customer adds a product and checks out, again and again; returns checkouts/s and latencies."""
    return await _every_customer(customers, seconds, _checkout)


async def product_reads(customers: Customers, seconds: float) -> tuple[float, Journeys]:
    """The same customers, the same client, reading product details: the checkout row's reference."""
    return await _every_customer(customers, seconds, _read)


async def event_delays(customers: Customers, orders: int) -> list[float]:
    """Order confirmed (the checkout's answer) -> the carts consumer has emptied the cart, in ms."""
    delays: list[float] = []
    auth = {"Authorization": f"Bearer {customers.tokens[0]}"}
    warm_up = 3  # the first events after start pay for metadata and connections: not measured
    async with httpx.AsyncClient(base_url=GATEWAY, timeout=30) as client:
        for n in range(-warm_up, orders):
            product = customers.products[n % len(customers.products)]
            (
                await client.post("/api/cart/items", json={"product_id": product, "quantity": 1}, headers=auth)
            ).raise_for_status()
            order = await client.post("/api/orders", headers={**auth, "Idempotency-Key": str(uuid.uuid4())}, json={})
            order.raise_for_status()
            confirmed = time.perf_counter()
            while time.perf_counter() - confirmed < 30:
                cart = await client.get("/api/cart", headers=auth)
                if cart.status_code == 200 and not cart.json()["lines"]:
                    if n >= 0:
                        delays.append((time.perf_counter() - confirmed) * 1000)
                    break
                await asyncio.sleep(0.005)
            else:
                raise RuntimeError("the cart was not emptied within 30 s of its order's confirmation")
            await asyncio.sleep(0.05)
    return delays


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else float("nan")
