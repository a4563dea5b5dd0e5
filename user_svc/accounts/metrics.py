"""Business metrics of the users service (Prometheus; multi-process safe under gunicorn)."""

from __future__ import annotations

from prometheus_client import Counter

USERS_REGISTERED = Counter("shop_users_registered_total", "Accounts registered.")
LOGINS = Counter("shop_logins_total", "Sign-in attempts by outcome.", ["outcome"])
TOKEN_REFRESHES = Counter("shop_token_refreshes_total", "Refresh-token rotations by outcome.", ["outcome"])
# The other services' admins re-check every staff session with users (shopkit.staff_session).
TOKEN_INTROSPECTIONS = Counter(
    "shop_token_introspections_total", "Refresh-token introspections by answer (active, inactive).", ["outcome"]
)
