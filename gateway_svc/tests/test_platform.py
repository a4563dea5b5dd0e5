"""The gateway as a platform citizen: OpenAPI, health, trace ids, security headers, CORS, ASGI lifespan."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from asgiref.sync import async_to_sync

from gateway_svc import upstream as upstream_module
from gateway_svc.asgi import application
from gateway_svc.tests.conftest import Gateway
from gateway_svc.tests.stubs import StubUpstream, free_port_url
from shopkit.testing.problems import TRACE_ID

PUBLIC_API = {
    ("post", "/api/auth/register"): {201, 400, 409, 413},
    ("post", "/api/auth/login"): {200, 400, 401, 413},
    ("post", "/api/auth/refresh"): {200, 400, 401, 413},
    ("post", "/api/auth/logout"): {204, 400, 401, 413},
    ("get", "/api/users/me"): {200, 401},
    ("patch", "/api/users/me"): {200, 400, 401, 413},
    ("post", "/api/users/me/password"): {204, 400, 401, 413},
    ("get", "/api/categories"): {200},
    ("get", "/api/products"): {200, 400},
    ("post", "/api/products"): {201, 400, 401, 403, 404, 409, 413},
    ("get", "/api/products/{product_id}"): {200, 404},
    ("patch", "/api/products/{product_id}"): {200, 400, 401, 403, 404, 409, 413},
    ("get", "/api/cart"): {200, 401},
    ("post", "/api/cart/items"): {200, 400, 401, 404, 409, 413},
    ("patch", "/api/cart/items/{product_id}"): {200, 400, 401, 404, 409, 413},
    ("delete", "/api/cart/items/{product_id}"): {200, 401, 404},
    ("post", "/api/orders"): {200, 201, 400, 401, 409, 422},
    ("get", "/api/orders"): {200, 400, 401},
    ("get", "/api/orders/{order_id}"): {200, 401, 404},
    ("post", "/api/orders/{order_id}/cancel"): {200, 401, 404, 409},
}


def test_openapi_documents_every_public_operation_with_its_problems(gateway: Gateway) -> None:
    # when
    response = gateway.get("/api/openapi.json")

    # then
    assert response.status_code == 200
    paths = response.json()["paths"]
    documented = {(method, path) for path, operations in paths.items() for method in operations}
    assert documented == {*PUBLIC_API, ("get", "/api/health")}
    for (method, path), statuses in PUBLIC_API.items():
        responses = paths[path][method]["responses"]
        assert {int(s) for s in responses} == statuses | {429, 503, 504}, (method, path)
        for status, documented_response in responses.items():
            if int(status) >= 400:
                assert list(documented_response["content"]) == ["application/problem+json"], (method, path, status)
    assert {int(s) for s in paths["/api/health"]["get"]["responses"]} == {200, 429, 503}


def test_openapi_documents_public_health_as_a_bare_status(gateway: Gateway) -> None:
    # when
    document = gateway.get("/api/openapi.json").json()

    # then
    health = document["paths"]["/api/health"]["get"]["responses"]
    assert list(health["503"]["content"]) == ["application/problem+json"]
    ref = health["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert document["components"]["schemas"][ref]["properties"] == {
        "status": {"const": "ok", "title": "Status", "type": "string"}
    }


def test_openapi_marks_ids_as_uuids_and_token_routes_as_secured(gateway: Gateway) -> None:
    # when
    paths = gateway.get("/api/openapi.json").json()["paths"]

    # then
    [product_id] = paths["/api/products/{product_id}"]["get"]["parameters"]
    assert product_id["schema"]["format"] == "uuid"
    assert paths["/api/cart"]["get"]["security"] == [{"BearerAuth": []}]
    assert "security" not in paths["/api/categories"]["get"]


def test_openapi_bodies_admit_only_what_the_gateway_accepts(gateway: Gateway) -> None:
    # when
    document = gateway.get("/api/openapi.json").json()

    # then: no unknown properties, no unbounded integer, no text with NUL, money as a bounded decimal string
    schemas = document["components"]["schemas"]
    bodies = [
        operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        for operations in document["paths"].values()
        for operation in operations.values()
        if "requestBody" in operation
    ]
    assert len(bodies) == 10
    for name in bodies:
        assert schemas[name]["additionalProperties"] is False, name
        for field, prop in schemas[name]["properties"].items():
            if prop["type"] == "integer":
                assert {"minimum", "maximum"} <= set(prop), (name, field)
            if prop["type"] == "string":
                assert {"pattern", "format", "enum"} & set(prop), (name, field)
    assert schemas["ProductPatchIn"]["properties"]["price"]["pattern"] == r"^\d{1,8}(\.\d{1,2})?$"
    [max_price] = [p for p in document["paths"]["/api/products"]["get"]["parameters"] if p["name"] == "max_price"]
    assert (max_price["required"], max_price["schema"]["type"]) == (False, "string")


def test_docs_page_is_served(gateway: Gateway) -> None:
    response = gateway.get("/api/docs")
    assert response.status_code == 200
    assert b"openapi.json" in response.content


def test_internal_readiness_reports_cache_and_every_downstream(gateway: Gateway, upstream: StubUpstream) -> None:
    # given
    upstream.reply("GET", "/health/ready", body={"status": "ok"})

    # when
    response = gateway.get("/health/ready")

    # then
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "service": "gateway",
        "checks": {"cache": "ok", "users": "ok", "products": "ok", "orders": "ok", "carts": "ok"},
    }


def test_internal_readiness_is_503_naming_the_downstream_that_is_down(
    gateway: Gateway, upstream: StubUpstream, settings: Any
) -> None:
    # given
    upstream.reply("GET", "/health/ready", body={"status": "ok"})
    settings.ORDERS_URL = free_port_url()

    # when
    response = gateway.get("/health/ready")

    # then: an untraced internal path (no trace id), a problem all the same
    assert (response.status_code, response.headers["content-type"]) == (503, "application/problem+json")
    body = response.json()
    assert body["checks"] == {"cache": "ok", "users": "ok", "products": "ok", "orders": "unavailable", "carts": "ok"}


def test_liveness_needs_no_downstream(gateway: Gateway, settings: Any) -> None:
    settings.USERS_URL = free_port_url()
    response = gateway.get("/health/live")
    assert (response.status_code, response.json()) == (200, {"status": "ok", "service": "gateway"})


def test_every_api_answer_has_a_trace_id_and_security_headers(gateway: Gateway, upstream: StubUpstream) -> None:
    # given
    upstream.reply("GET", "/api/categories", body={"items": [], "count": 0})

    # when
    answers = [gateway.get("/api/categories"), gateway.get("/api/nothing"), gateway.get("/api/users/me")]

    # then
    for answer in answers:
        assert TRACE_ID.match(answer.headers["x-trace-id"])
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "same-origin"
    assert len({a.headers["x-trace-id"] for a in answers}) == 3


def test_cors_only_for_allowed_origins(gateway: Gateway, upstream: StubUpstream, settings: Any) -> None:
    # given
    settings.CORS_ALLOWED_ORIGINS = ["https://shop.example"]
    upstream.reply("GET", "/api/categories", body={"items": [], "count": 0})

    # when
    allowed = gateway.get("/api/categories", headers={"Origin": "https://shop.example"})
    other = gateway.get("/api/categories", headers={"Origin": "https://evil.example"})
    preflight = gateway.request(
        "OPTIONS",
        "/api/orders",
        headers={
            "Origin": "https://shop.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, idempotency-key",
        },
    )

    # then
    assert allowed.headers["access-control-allow-origin"] == "https://shop.example"
    assert "x-trace-id" in allowed.headers["access-control-expose-headers"].lower()
    assert "access-control-allow-origin" not in other.headers
    assert preflight.status_code == 200
    assert "idempotency-key" in preflight.headers["access-control-allow-headers"]


def test_lifespan_shutdown_closes_the_upstream_pool() -> None:
    # given
    messages: list[MutableMapping[str, Any]] = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return messages.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    async def run() -> bool:
        pool = upstream_module.client()
        await application({"type": "lifespan"}, receive, send)
        return pool.is_closed

    # when
    closed = async_to_sync(run)()

    # then
    assert closed
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
