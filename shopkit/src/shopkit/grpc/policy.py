"""Who may call which method of products' gRPC service: part of its contract, read by the server and the fake."""

from __future__ import annotations

# By the identity in the caller's client certificate (mutual TLS with the stack's CA; docs/security.md):
# only orders moves stock, carts only reads. Any method not listed is denied to everyone.
PRODUCTS_CALLERS: dict[str, list[str]] = {
    "GetProduct": ["orders", "carts"],
    "GetProducts": ["orders", "carts"],
    "ReserveStock": ["orders"],
    "ReleaseStock": ["orders"],
    "ConfirmReservation": ["orders"],
}
