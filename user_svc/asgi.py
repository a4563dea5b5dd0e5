"""ASGI entry point of the users service."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "user_svc.settings")
application = get_asgi_application()

# Load the signing key now: in production a missing key stops the server at start, not at the first login.
from user_svc.accounts.tokens import signing_key  # noqa: E402 - needs Django set up

signing_key()
