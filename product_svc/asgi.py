"""ASGI entry point of the products service."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "product_svc.settings")
application = get_asgi_application()
