"""The public API's routers, one per downstream area; each view validates, checks limits and forwards."""
