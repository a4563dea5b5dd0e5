"""The gateway runs on Django and Ninja alone: no DRF, no django.contrib.auth or contenttypes (issue 13)."""

from __future__ import annotations

import json

from shopkit.testing.processes import child_env, run_python

# A fresh interpreter: this suite's own process has loaded DRF through the shopkit test plugin's clients.
# It loads what uvicorn loads, resolves every route and runs Django's checks, then names the modules it holds.
_LOAD_THE_GATEWAY = """
import json, sys
import gateway_svc.asgi
from django.conf import settings
from django.core import checks
from django.urls import get_resolver
get_resolver().url_patterns
errors = [str(message) for message in checks.run_checks() if message.level >= checks.ERROR]
print(json.dumps({
    "apps": list(settings.INSTALLED_APPS),
    "errors": errors,
    "drf_or_auth": sorted(
        name for name in sys.modules
        if name.startswith(("rest_framework", "django.contrib.auth", "django.contrib.contenttypes"))
    ),
}))
"""


def test_the_gateway_loads_without_drf_auth_or_contenttypes() -> None:
    # given
    env = child_env(DJANGO_SETTINGS_MODULE="gateway_svc.settings", LOG_LEVEL="ERROR")

    # when
    result = run_python(["-c", _LOAD_THE_GATEWAY], env=env)

    # then
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded["errors"] == []
    assert loaded["drf_or_auth"] == []
    assert not {"rest_framework", "django.contrib.auth", "django.contrib.contenttypes"} & set(loaded["apps"])
