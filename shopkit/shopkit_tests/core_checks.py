"""A readiness check that always fails, for the health tests."""


def always_fails() -> None:
    raise RuntimeError("dependency down")
