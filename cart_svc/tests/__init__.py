"""Tests of the carts service."""
