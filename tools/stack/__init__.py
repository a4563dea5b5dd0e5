"""Tools for the full Docker stack (compose/): what `make up` runs around docker compose."""
