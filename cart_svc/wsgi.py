"""WSGI entry point of the carts service (gunicorn)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cart_svc.settings")
application = get_wsgi_application()
