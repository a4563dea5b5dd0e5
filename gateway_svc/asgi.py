"""ASGI entry point of the gateway service (uvicorn)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_svc.settings")
django_application = get_asgi_application()

from gateway_svc.middleware import GatewayASGI  # noqa: E402 - needs Django set up first
from shopkit.tracing import wrap_asgi  # noqa: E402

application = wrap_asgi(GatewayASGI(django_application))
