"""`make load`: customers, as Locust users, against a running shop's gateway (`make run` first).

Each simulated customer browses and filters the catalog, opens products, registers and logs in, fills
a cart, checks out (with an Idempotency-Key), looks at their orders and cancels some, with think times
between steps; about one request in twenty is deliberately bad (unknown id, bad filter, bad quantity,
missing token), as real traffic is. It feeds every dashboard with realistic series.

    make load                                   # 20 users, 60 s, http://127.0.0.1:3000
    make load USERS=50 RUN_TIME=5m HOST=https://shop.example.com
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from locust import between, events, task
from locust.contrib.fasthttp import FastHttpUser

CATEGORY_SLUGS: list[str] = []
PRODUCT_IDS: list[str] = []


@events.test_start.add_listener  # type: ignore[untyped-decorator]
def load_catalog(environment: Any, **_: Any) -> None:
    """Learn the catalog once, so users pick real products and categories."""
    import httpx

    host = environment.host or "http://127.0.0.1:3000"
    with httpx.Client(base_url=host, timeout=10) as client:
        CATEGORY_SLUGS.extend(c["slug"] for c in client.get("/api/categories").json()["items"])
        for page in (1, 2, 3):
            response = client.get("/api/products", params={"page": page, "page_size": 20, "in_stock": "true"})
            if response.status_code != 200:
                break
            PRODUCT_IDS.extend(p["id"] for p in response.json()["items"])


class Customer(FastHttpUser):
    wait_time = between(0.5, 3)

    def on_start(self) -> None:
        self.token: str | None = None
        self.orders: list[str] = []

    # -- anonymous browsing (most traffic) -------------------------------------------------------
    @task(10)
    def browse(self) -> None:
        params: dict[str, Any] = {"page": random.randint(1, 3)}
        if CATEGORY_SLUGS and random.random() < 0.5:
            params["category"] = random.choice(CATEGORY_SLUGS)
        if random.random() < 0.3:
            params["ordering"] = random.choice(["price", "-price", "name", "-created_at"])
        if random.random() < 0.2:
            params["max_price"] = random.choice(["20", "50", "100"])
        with self.client.get("/api/products", params=params, name="/api/products", catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"catalog {r.status_code}")

    @task(8)
    def open_product(self) -> None:
        if PRODUCT_IDS:
            self.client.get(f"/api/products/{random.choice(PRODUCT_IDS)}", name="/api/products/{id}")

    @task(2)
    def search(self) -> None:
        self.client.get(
            "/api/products",
            params={"search": random.choice(["tea", "mug", "lamp", "book"])},
            name="/api/products?search",
        )

    # -- a customer's journey ---------------------------------------------------------------------
    @task(3)
    def shop(self) -> None:
        if not PRODUCT_IDS:
            return
        if self.token is None:
            self._register_and_log_in()
            if self.token is None:
                return
        auth = {"Authorization": f"Bearer {self.token}"}
        for product in random.sample(PRODUCT_IDS, k=random.randint(1, 3)):
            self.client.post(
                "/api/cart/items",
                json={"product_id": product, "quantity": random.randint(1, 2)},
                headers=auth,
                name="/api/cart/items",
            )
        self.client.get("/api/cart", headers=auth)
        if random.random() < 0.7:
            with self.client.post(
                "/api/orders", json={}, headers={**auth, "Idempotency-Key": str(uuid.uuid4())}, catch_response=True
            ) as r:
                if r.status_code in (200, 201):
                    self.orders.append(r.json()["id"])
                elif r.status_code == 409:
                    r.success()  # sold out: a business answer, counted on the Business dashboard
        self.client.get("/api/orders", headers=auth)
        if self.orders and random.random() < 0.2:
            order = self.orders.pop(random.randrange(len(self.orders)))
            self.client.post(f"/api/orders/{order}/cancel", headers=auth, name="/api/orders/{id}/cancel")

    def _register_and_log_in(self) -> None:
        email = f"load-{uuid.uuid4().hex[:12]}@example.com"
        password = f"load-{uuid.uuid4().hex}"
        self.client.post("/api/auth/register", json={"email": email, "password": password, "first_name": "Load"})
        with self.client.post("/api/auth/login", json={"email": email, "password": password}, catch_response=True) as r:
            if r.status_code == 200:
                self.token = r.json()["access"]
            else:
                r.failure(f"login {r.status_code}")

    # -- bad requests (about 5%) ------------------------------------------------------------------
    @task(1)
    def bad_request(self) -> None:
        kind = random.choice(["unknown", "malformed", "filter", "no-token", "quantity"])
        expected = {"unknown": 404, "malformed": 404, "filter": 400, "no-token": 401, "quantity": 400}[kind]
        with self._bad(kind) as r:
            if r.status_code == expected or (kind == "quantity" and r.status_code == 401):
                r.success()
            else:
                r.failure(f"{kind}: expected {expected}, got {r.status_code}")

    def _bad(self, kind: str) -> Any:
        name = f"bad: {kind}"
        if kind == "unknown":
            return self.client.get(f"/api/products/{uuid.uuid4()}", name=name, catch_response=True)
        if kind == "malformed":
            return self.client.get("/api/products/not-a-uuid", name=name, catch_response=True)
        if kind == "filter":
            return self.client.get("/api/products", params={"min_price": "cheap"}, name=name, catch_response=True)
        if kind == "no-token":
            return self.client.get("/api/orders", name=name, catch_response=True)
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        product = PRODUCT_IDS[0] if PRODUCT_IDS else str(uuid.uuid4())
        return self.client.post(
            "/api/cart/items",
            json={"product_id": product, "quantity": 0},
            headers=headers,
            name=name,
            catch_response=True,
        )
