"""The catalog: categories, products, stock and its reservations."""
