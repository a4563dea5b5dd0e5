"""Shared platform code for every Shop service."""

__version__ = "0.1.0"
