"""Test helpers shared by every service's suite (loaded as a pytest plugin)."""

from __future__ import annotations


def django_configured() -> bool:
    """Whether this suite runs with Django settings (the shared fixtures skip their Django part otherwise)."""
    try:
        from django.conf import settings

        return settings.configured
    except ImportError:
        return False
