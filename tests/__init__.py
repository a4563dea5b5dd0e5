"""Repository-level suites: end-to-end and infrastructure."""
