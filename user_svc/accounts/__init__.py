"""Accounts: users, credentials, tokens and staff of the shop."""
