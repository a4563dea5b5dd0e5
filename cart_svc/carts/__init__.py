"""Carts: one cart per customer, its lines, and the services that keep them honest against products."""
