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
class SigningGuide:
    fields: dict[str, Any]
    fields_json: str  # in signing order (a template's tojson would sort the keys)
    payload: str
    payload_utf8_bytes: int
    examples: tuple[WorkedExample, ...]


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
        fields, json.dumps(fields, indent=2), payload, len(payload.encode("utf-8")), tuple(examples)
    )
