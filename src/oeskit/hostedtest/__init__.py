"""`oeskit hosted-test`: grades a partner's own hosted endpoints (what BitGo calls on the
partner) from outside, over HTTP only, acting as BitGo with its RSA key."""
