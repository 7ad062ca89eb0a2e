"""Bitcoin Signed Message over secp256k1 (coincurve), byte-compatible with bitcoinjs-message.

This is what BitGo's SDK and Express produce for `signPayload`; see domain.md §6.3.
"""

from __future__ import annotations

import hashlib

import coincurve

MAGIC_PREFIX = b"\x18Bitcoin Signed Message:\n"
SIGNATURE_LENGTH = 65
# Header byte = 27 + recovery id, plus 4 when the signer's key is compressed.
UNCOMPRESSED_HEADERS = range(27, 31)
COMPRESSED_HEADERS = range(31, 35)


def compact_size(length: int) -> bytes:
    """Bitcoin's CompactSize (varint) encoding of a length."""
    if length < 0xFD:
        return bytes([length])
    if length <= 0xFFFF:
        return b"\xfd" + length.to_bytes(2, "little")
    if length <= 0xFFFF_FFFF:
        return b"\xfe" + length.to_bytes(4, "little")
    return b"\xff" + length.to_bytes(8, "little")


def magic_hash(message: bytes) -> bytes:
    """Double SHA-256 of the prefixed, length-framed message."""
    framed = MAGIC_PREFIX + compact_size(len(message)) + message
    return hashlib.sha256(hashlib.sha256(framed).digest()).digest()


def sign(message: bytes, private_key_hex: str) -> str:
    """Sign with a 32-byte hex secp256k1 key; return `header || r || s` as 130 hex digits."""
    private_key = coincurve.PrivateKey(bytes.fromhex(private_key_hex))
    # libsecp256k1 signs with RFC 6979 nonces and low S, as bitcoinjs-message does, so the
    # result is deterministic and matches the JavaScript signer byte for byte.
    recoverable = private_key.sign_recoverable(magic_hash(message), hasher=None)
    r_s, recovery_id = recoverable[:64], recoverable[64]
    return (bytes([COMPRESSED_HEADERS.start + recovery_id]) + r_s).hex()


def verify(message: bytes, signature_hex: str, public_key: bytes) -> bool:
    """Return whether the signature recovers to `public_key` (33-byte compressed).

    Like bitcoinjs-message with a P2PKH address, only compressed headers (31..34) can match a
    compressed key; headers 27..30 recover an uncompressed key and so never verify.
    """
    try:
        signature = bytes.fromhex(signature_hex)
    except ValueError:
        return False
    if len(signature) != SIGNATURE_LENGTH or signature[0] not in COMPRESSED_HEADERS:
        return False
    recovery_id = signature[0] - COMPRESSED_HEADERS.start
    try:
        recovered = coincurve.PublicKey.from_signature_and_message(
            signature[1:] + bytes([recovery_id]), magic_hash(message), hasher=None
        )
    except ValueError:
        # r or s out of range, or no point for this recovery id: not a signature by anyone.
        return False
    return recovered.format(compressed=True) == public_key
