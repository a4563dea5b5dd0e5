"""Management commands of the carts app."""
