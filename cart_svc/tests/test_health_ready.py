"""Carts is ready only when products' gRPC server answers on its own channel: the shared cases."""

from shopkit.testing.products_readiness import *  # noqa: F403 - the shared readiness tests, collected here
