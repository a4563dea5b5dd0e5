"""Who may call which method of products' gRPC service: part of its contract, read by the server and the fake."""

from __future__ import annotations

# By the identity in the caller's client certificate (mutual TLS with the stack's CA; docs/security.md):
# only orders moves stock, carts only reads. Any method not listed is denied to everyone.
# grpc.health.v1.Health (Check, Watch) and reflection are services of their own, not methods listed here:
# build_server leaves them open to every certificate the stack's CA signed, so orders' and carts' readiness
# (shopkit.grpc.readiness) and the container probe (compose/healthcheck.py) may always ask.
PRODUCTS_CALLERS: dict[str, list[str]] = {
    "GetProduct": ["orders", "carts"],
    "GetProducts": ["orders", "carts"],
    "ReserveStock": ["orders"],
    "ReleaseStock": ["orders"],
    "ConfirmReservation": ["orders"],
}
