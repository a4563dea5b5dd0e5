"""Settings of the shared package's test suite: the platform settings plus the events app."""

from shopkit.base_settings import *  # noqa: F403
from shopkit.base_settings import INSTALLED_APPS
from shopkit.settings import cache, database

SERVICE_NAME = "shopkit-tests"
ROOT_URLCONF = "shopkit_tests.urls"

INSTALLED_APPS = [*INSTALLED_APPS, "shopkit.events", "shopkit_tests"]

DATABASES = {"default": database("shopkit_tests")}
CACHES = {"default": cache("shopkit_tests")}
