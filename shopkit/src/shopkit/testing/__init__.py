"""Test helpers shared by every service's suite (loaded as a pytest plugin)."""
