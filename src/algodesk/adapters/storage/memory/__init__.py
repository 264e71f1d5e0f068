"""In-memory storage: the same ports, for tests and backtests; lost when the process ends."""
