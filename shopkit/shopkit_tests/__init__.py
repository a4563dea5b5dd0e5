"""The Django project the shared package's tests run in (settings and a test-only app)."""
