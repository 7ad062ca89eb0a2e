"""Soak test of a real `oeskit serve` (run by `make soak`, a 10 s version by the test suite)."""
