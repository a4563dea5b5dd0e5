"""gRPC plumbing every service shares: the products client, server building, interceptors, status mapping."""
