"""Developer tools: run the shop, run the tests, generate stubs, check secrets."""
