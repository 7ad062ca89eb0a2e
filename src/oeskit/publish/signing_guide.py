"""The worked signing examples of the docs site, computed with `oeskit.signing` at build time.

The keys are fixed test keys derived from public strings (never use them for real funds), so
every build shows the same, real, verifiable signatures for both schemes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from oeskit import signing
from oeskit.signing import bitcoin_message

_FIELDS = ("externalId", "notes", "settlementAmounts", "nonce", "cutoffAt")
_SEEDS = {
    signing.ED25519: b"oeskit docs: ed25519 test key",
    signing.BITCOIN_MESSAGE: b"oeskit docs: bitcoin-message test key",
}


@dataclass(frozen=True, slots=True)
class WorkedExample:
    scheme: str
    private_key: str
    public_key: str
    signature: str
    verified: bool


@dataclass(frozen=True, slots=True)
class BitcoinMessageVector:
    """The bitcoin-message test vector (made by bitcoinjs-message, an independent signer) and
    what the server's own verifier says of it and of its variants, computed at build time so
    the page states what the code does."""

    private_key: str
    public_key: str
    payload: str
    magic_hash: str
    signature: str
    header: int  # the signature's first byte
    recovery_id: int
    verified: bool
    low_s: bool
    high_s_twin: str  # the same signature with s replaced by n - s and the other recovery id
    twin_recovery_id: int
    high_s_verified: bool
    uncompressed_header_verified: bool  # the same r, s under header 27 + recovery id


@dataclass(frozen=True, slots=True)
class SigningGuide:
    fields: dict[str, Any]
    fields_json: str  # in signing order (a template's tojson would sort the keys)
    payload: str
    payload_utf8_bytes: int
    examples: tuple[WorkedExample, ...]
    vector: BitcoinMessageVector


def docs_key(scheme: str) -> signing.SigningKey:
    return signing.key_from_private(scheme, hashlib.sha256(_SEEDS[scheme]).hexdigest())


def guide(request_example: dict[str, Any]) -> SigningGuide:
    """Payload and signatures for the signed fields of the contract's v2 request example."""
    fields = {name: request_example[name] for name in _FIELDS if name in request_example}
    payload = signing.canonical_payload(fields)
    examples = []
    for scheme in (signing.ED25519, signing.BITCOIN_MESSAGE):
        key = docs_key(scheme)
        signature = signing.sign_message(payload, key)
        public = signing.SigningKey(scheme, key.public_key)
        examples.append(
            WorkedExample(
                scheme=scheme,
                private_key=str(key.private_key),
                public_key=key.public_key,
                signature=signature,
                verified=signing.verify(payload, signature, public),
            )
        )
    return SigningGuide(
        fields,
        json.dumps(fields, indent=2),
        payload,
        len(payload.encode("utf-8")),
        tuple(examples),
        bitcoin_message_vector(),
    )


# secp256k1's group order: s and n - s are the two valid s values of one signature.
_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_VECTOR_PRIVATE = "e68b594ba96c5e981762aabc69c9ab3febfc4c864041f81989ca2dea7809957b"
_VECTOR_PUBLIC = "02f341e35ada43ac4743e304751321fd3f3eee5eb48c01366233a823234ed5b1cc"
_VECTOR_PAYLOAD = (
    '{"externalId":"settlement-2025-06-01","notes":"daily settlement","settlementAmounts":'
    '{"09684b38-49ed-4cf6-a28e-c3a459494c69":{"BTC":"100","ETH":"-200"},'
    '"136c1c69-8654-484f-8c5f-591b334a084f":{"XRP":"300","BTC":"-400"}},'
    '"nonce":"c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00",'
    '"cutoffAt":"2025-06-01T00:00:00.000Z"}'
)
_VECTOR_SIGNATURE = (
    "20e2813a45e06d13f53d27b634ea08e5120ca55679f8f7d058950d95e5bc7b00af"
    "48baa3926c128fd492d24a548eba9ec9ed7e42522ca096d62f5ce42324dacfc3"
)


def bitcoin_message_vector() -> BitcoinMessageVector:
    """The vector, checked with the server's verifier, with its high-S and uncompressed twins."""
    key = signing.SigningKey(signing.BITCOIN_MESSAGE, _VECTOR_PUBLIC)
    raw = bytes.fromhex(_VECTOR_SIGNATURE)
    header, r, s = raw[0], raw[1:33], int.from_bytes(raw[33:], "big")
    recovery_id = header - 31
    # Negating s negates the nonce point: the key is recovered with the other y parity.
    twin = (bytes([31 + (recovery_id ^ 1)]) + r + (_ORDER - s).to_bytes(32, "big")).hex()
    uncompressed = (bytes([27 + recovery_id]) + raw[1:]).hex()
    return BitcoinMessageVector(
        private_key=_VECTOR_PRIVATE,
        public_key=_VECTOR_PUBLIC,
        payload=_VECTOR_PAYLOAD,
        magic_hash=bitcoin_message.magic_hash(_VECTOR_PAYLOAD.encode()).hex(),
        signature=_VECTOR_SIGNATURE,
        header=header,
        recovery_id=recovery_id,
        verified=signing.verify(_VECTOR_PAYLOAD, _VECTOR_SIGNATURE, key),
        low_s=s <= _ORDER // 2,
        high_s_twin=twin,
        twin_recovery_id=recovery_id ^ 1,
        high_s_verified=signing.verify(_VECTOR_PAYLOAD, twin, key),
        uncompressed_header_verified=signing.verify(_VECTOR_PAYLOAD, uncompressed, key),
    )
