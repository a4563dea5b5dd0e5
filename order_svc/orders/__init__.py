"""Orders: checkout with idempotency keys, stock reservations over gRPC, cancellations, outbox events."""
