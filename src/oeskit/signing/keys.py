"""Signing keys: the two schemes, key generation, and public-key decoding (hex or xpub).

Holds no key material of its own and never reads files or the environment.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

import coincurve
import nacl.signing

ED25519: Final = "ed25519"
BITCOIN_MESSAGE: Final = "bitcoin-message"
SCHEMES: Final = (ED25519, BITCOIN_MESSAGE)

_BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_XPUB_VERSION = bytes.fromhex("0488B21E")
_BIP32_SERIALIZED_LENGTH = 78


class InvalidKey(ValueError):
    """A key string cannot be decoded for its scheme."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A registered key: its scheme, public key and, in test worlds only, its private key.

    `public_key` is 32-byte hex for ed25519; for bitcoin-message it is a 33-byte compressed hex
    key or a BIP32 xpub. `private_key` is a 32-byte hex secret (ed25519 seed or secp256k1 scalar).
    """

    scheme: str
    public_key: str
    private_key: str | None = None

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise InvalidKey(f"unknown signing scheme {self.scheme!r}; expected one of {SCHEMES}")


def generate(scheme: str) -> SigningKey:
    """Create a fresh random key pair for `scheme`."""
    if scheme == ED25519:
        return key_from_private(scheme, bytes(nacl.signing.SigningKey.generate()).hex())
    if scheme == BITCOIN_MESSAGE:
        return key_from_private(scheme, coincurve.PrivateKey().secret.hex())
    raise InvalidKey(f"unknown signing scheme {scheme!r}; expected one of {SCHEMES}")


def key_from_private(scheme: str, private_hex: str) -> SigningKey:
    """Build the full key (with its derived public key) from a 32-byte hex private key."""
    secret = _hex_bytes(private_hex, 32, "private key")
    if scheme == ED25519:
        public = bytes(nacl.signing.SigningKey(secret).verify_key)
    elif scheme == BITCOIN_MESSAGE:
        try:
            public = coincurve.PrivateKey(secret).public_key.format(compressed=True)
        except ValueError as exc:
            raise InvalidKey(f"not a valid secp256k1 private key: {exc}") from exc
    else:
        raise InvalidKey(f"unknown signing scheme {scheme!r}; expected one of {SCHEMES}")
    return SigningKey(scheme=scheme, public_key=public.hex(), private_key=secret.hex())


def public_key_bytes(key: SigningKey) -> bytes:
    """Return the raw public key: 32 bytes (ed25519) or 33 compressed bytes (bitcoin-message)."""
    if key.scheme == ED25519:
        return _hex_bytes(key.public_key, 32, "ed25519 public key")
    if key.public_key.startswith("xpub"):
        compressed = xpub_public_key(key.public_key)
    else:
        compressed = _hex_bytes(key.public_key, 33, "compressed secp256k1 public key")
    try:
        coincurve.PublicKey(compressed)
    except ValueError as exc:
        raise InvalidKey(f"not a point on secp256k1: {key.public_key}") from exc
    return compressed


def xpub_public_key(xpub: str) -> bytes:
    """Return the 33-byte compressed key inside a mainnet BIP32 xpub."""
    data = base58check_decode(xpub)
    if len(data) != _BIP32_SERIALIZED_LENGTH or data[:4] != _XPUB_VERSION:
        raise InvalidKey("not a BIP32 xpub (wrong length or version bytes)")
    compressed = data[-33:]
    if compressed[0] not in (2, 3):
        raise InvalidKey("xpub does not hold a compressed public key")
    return compressed


def base58check_decode(text: str) -> bytes:
    """Decode Base58Check and return the payload without its 4-byte checksum."""
    number = 0
    for char in text:
        digit = _BASE58_ALPHABET.find(char)
        if digit < 0:
            raise InvalidKey(f"{char!r} is not a base58 character")
        number = number * 58 + digit
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    # Each leading "1" stands for a leading zero byte the integer form cannot carry.
    leading_zeros = len(text) - len(text.lstrip("1"))
    raw = b"\x00" * leading_zeros + body
    if len(raw) < 4:
        raise InvalidKey("base58check string is too short")
    payload, checksum = raw[:-4], raw[-4:]
    if hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4] != checksum:
        raise InvalidKey("base58check checksum does not match")
    return payload


def _hex_bytes(text: str, length: int, what: str) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except ValueError as exc:
        raise InvalidKey(f"{what} is not hex") from exc
    # bytes.fromhex tolerates spaces; a key string must not contain any.
    if len(raw) != length or len(text) != 2 * length:
        raise InvalidKey(f"{what} must be {length} bytes of hex, got {text!r}")
    return raw
