"""Signing and verifying settlement payloads for both key schemes (ed25519, bitcoin-message).

The message is always the UTF-8 bytes of the exact payload string, never a re-serialization.
No HTTP, no storage, no environment: callers pass keys in and get values or errors back.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from oeskit.signing import bitcoin_message, ed25519
from oeskit.signing.keys import (
    BITCOIN_MESSAGE,
    ED25519,
    SCHEMES,
    InvalidKey,
    SigningKey,
    generate,
    key_from_private,
    public_key_bytes,
)
from oeskit.signing.payload import (
    SIGNED_FIELDS,
    PayloadNotJSON,
    canonical_payload,
    new_nonce,
    parse_payload,
    payload_mismatches,
)

__all__ = [
    "BITCOIN_MESSAGE",
    "ED25519",
    "SCHEMES",
    "SIGNED_FIELDS",
    "InvalidKey",
    "MalformedSignature",
    "PayloadNotJSON",
    "SigningKey",
    "canonical_payload",
    "check_well_formed",
    "generate",
    "key_from_private",
    "new_nonce",
    "parse_payload",
    "payload_mismatches",
    "public_key_bytes",
    "scheme_of",
    "sign_body",
    "sign_message",
    "verify",
    "verify_any",
]

_SIGNATURE_LENGTHS = {ED25519: 64, BITCOIN_MESSAGE: bitcoin_message.SIGNATURE_LENGTH}
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")


class MalformedSignature(ValueError):
    """The signature string is not well formed for the scheme; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def sign_message(message: bytes | str, key: SigningKey) -> str:
    """Sign `message` (a str is taken as its UTF-8 bytes) with the key's private key; return hex."""
    if key.private_key is None:
        raise InvalidKey(f"{key.scheme} key {key.public_key} has no private key to sign with")
    data = message.encode("utf-8") if isinstance(message, str) else message
    if key.scheme == ED25519:
        return ed25519.sign(data, key.private_key)
    return bitcoin_message.sign(data, key.private_key)


def sign_body(fields: Mapping[str, object], key: SigningKey) -> dict[str, object]:
    """Return the complete request body: the fields, their canonical `payload`, its `signature`.

    Signed fields come first in `SIGNED_FIELDS` order, then any other given field; a `payload`
    or `signature` already in `fields` is replaced.
    """
    payload = canonical_payload(fields)
    body: dict[str, object] = {name: fields[name] for name in SIGNED_FIELDS if name in fields}
    body.update(
        (name, value)
        for name, value in fields.items()
        if name not in body and name not in ("payload", "signature")
    )
    body["payload"] = payload
    body["signature"] = sign_message(payload, key)
    return body


def check_well_formed(signature: str, scheme: str) -> None:
    """Raise MalformedSignature unless `signature` is hex of the right shape for `scheme`.

    A bitcoin-message header of 27..30 (uncompressed) is well formed but will never verify.
    """
    if scheme not in _SIGNATURE_LENGTHS:
        raise ValueError(f"unknown signing scheme {scheme!r}; expected one of {SCHEMES}")
    raw = _decode_hex(signature)
    expected = _SIGNATURE_LENGTHS[scheme]
    if len(raw) != expected:
        raise MalformedSignature(
            f"a {scheme} signature is {expected} bytes ({2 * expected} hex digits), got {len(raw)}"
        )
    if scheme == BITCOIN_MESSAGE and not 27 <= raw[0] <= 34:
        raise MalformedSignature(
            f"a bitcoin-message signature starts with a header byte 27..34, got {raw[0]}"
        )


def scheme_of(signature: str) -> str | None:
    """Return the scheme for which `signature` is well formed, or None if it is for none."""
    for scheme in SCHEMES:
        try:
            check_well_formed(signature, scheme)
        except MalformedSignature:
            continue
        return scheme
    return None


def verify(payload: str, signature: str, key: SigningKey) -> bool:
    """Return whether `signature` signs the exact `payload` string with `key`.

    A signature not well formed for the key's scheme is simply not valid (False); callers that
    must tell "malformed" from "wrong" call `check_well_formed` first. An undecodable registered
    public key raises InvalidKey, since that is a configuration error, not a bad request.
    """
    try:
        check_well_formed(signature, key.scheme)
    except MalformedSignature:
        return False
    message = payload.encode("utf-8")
    signature_hex = _strip_prefix(signature)
    public_key = public_key_bytes(key)
    if key.scheme == ED25519:
        return ed25519.verify(message, signature_hex, public_key)
    return bitcoin_message.verify(message, signature_hex, public_key)


def verify_any(payload: str, signature: str, keys: Sequence[SigningKey]) -> SigningKey | None:
    """Return the first registered key that verifies `signature` over `payload`, else None.

    The signature's length tells its scheme, so it is only tried against keys of that scheme.
    """
    scheme = scheme_of(signature)
    if scheme is None:
        return None
    for key in keys:
        if key.scheme == scheme and verify(payload, signature, key):
            return key
    return None


def _strip_prefix(signature: str) -> str:
    return signature.removeprefix("0x")


def _decode_hex(signature: str) -> bytes:
    digits = _strip_prefix(signature)
    if not digits:
        raise MalformedSignature("signature is empty")
    # A regex rather than bytes.fromhex alone: fromhex would accept embedded spaces.
    if _HEX.fullmatch(digits) is None:
        raise MalformedSignature("signature is not an even number of hex digits")
    return bytes.fromhex(digits)
