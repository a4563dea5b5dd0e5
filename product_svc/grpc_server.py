"""Entry point of the products gRPC server: `python -m product_svc.grpc_server`."""

from __future__ import annotations

import os


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "product_svc.settings")  # noqa: TID251 - before Django exists
    import django

    django.setup()

    from django.conf import settings

    from product_svc.catalog.servicer import SERVICE_NAME, register
    from shopkit.events.metrics import serve_metrics
    from shopkit.grpc.server import build_server, method_callers, serve_until_signalled
    from shopkit.grpc.tls import TlsFiles, server_credentials

    serve_metrics(settings.PRODUCTS_GRPC_METRICS_PORT)
    running = build_server(
        register=register,
        service_names=[SERVICE_NAME],
        bind=settings.PRODUCTS_GRPC_BIND,
        port=settings.PRODUCTS_GRPC_PORT,
        credentials=server_credentials(TlsFiles.from_settings()),
        callers=method_callers(SERVICE_NAME, settings.PRODUCTS_GRPC_CALLERS),
        reflection=settings.PRODUCTS_GRPC_REFLECTION,
        max_workers=settings.PRODUCTS_GRPC_WORKERS,
    )
    serve_until_signalled(running, grace_seconds=settings.PRODUCTS_GRPC_GRACE_SECONDS)


if __name__ == "__main__":
    main()
