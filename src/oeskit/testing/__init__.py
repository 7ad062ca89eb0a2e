"""Helpers for testing against a real oeskit sandbox: starting `oeskit serve` (server.py) and the
per-test sandbox handle of the pytest plugin (sandbox.py). Imported by tests, bench and soak."""
