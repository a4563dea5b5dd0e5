"""End-to-end suite: real processes, HTTP to the gateway only."""
