"""Ed25519 signatures over raw message bytes (PyNaCl). Hex in, hex out; no key lookup."""

from __future__ import annotations

import nacl.exceptions
import nacl.signing


def sign(message: bytes, private_key_hex: str) -> str:
    """Sign `message` with a 32-byte hex seed; return the 64-byte detached signature as hex."""
    signing_key = nacl.signing.SigningKey(bytes.fromhex(private_key_hex))
    return signing_key.sign(message).signature.hex()


def verify(message: bytes, signature_hex: str, public_key: bytes) -> bool:
    """Return whether `signature_hex` is a valid signature of `message` by `public_key`."""
    try:
        signature = bytes.fromhex(signature_hex)
        nacl.signing.VerifyKey(public_key).verify(message, signature)
    except (ValueError, TypeError, nacl.exceptions.CryptoError):
        return False
    return True
