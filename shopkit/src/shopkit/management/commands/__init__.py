"""shopkit's management commands: Django's `migrate`, logging structured events in JSON log mode."""
