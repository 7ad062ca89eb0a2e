"""oeskit: reference sandbox and conformance kit for the OES v2 partner settlements API."""
