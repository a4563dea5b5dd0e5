"""jwt_keygen and seed_demo."""
