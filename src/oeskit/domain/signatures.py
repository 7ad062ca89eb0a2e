"""Steps 5 and 6: the signature is well formed, the payload is the body, and a key verifies it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from oeskit import signing
from oeskit.domain import rules
from oeskit.domain.model import Partner
from oeskit.errors import RuleViolation


def check(partner: Partner, body: Mapping[str, object]) -> None:
    """Raise the first rule the request's signature breaks; return when it verifies."""
    mismatches = signing.payload_mismatches(signed_payload(partner, body), body)
    if mismatches:
        raise RuleViolation(
            rules.SIG_PAYLOAD_MISMATCH,
            "payload does not match the request: these signed fields differ from the body: "
            + ", ".join(mismatches),
        )
    verify(partner, body)


def signed_payload(partner: Partner, body: Mapping[str, object]) -> dict[str, Any]:
    """The parsed `payload` of a signed body whose `signature` is well formed for one of the
    partner's key schemes; the rule it breaks otherwise. What the payload must match is the
    caller's (a settlement's signed fields, an allocation update's every other field)."""
    signature = str(body["signature"])
    problems: list[str] = []
    for scheme in sorted({key.scheme for key in partner.keys}):
        try:
            signing.check_well_formed(signature, scheme)
            break
        except signing.MalformedSignature as exc:
            problems.append(f"{scheme}: {exc}")
    else:
        raise RuleViolation(
            rules.SIG_MALFORMED,
            "signature is not well formed for any key scheme this partner registered ("
            + "; ".join(problems)
            + ")",
        )
    try:
        return signing.parse_payload(str(body["payload"]))
    except signing.PayloadNotJSON as exc:
        raise RuleViolation(
            rules.SIG_PAYLOAD_JSON, f"payload must be a JSON object: {exc}"
        ) from None


def verify(partner: Partner, body: Mapping[str, object]) -> None:
    """The signature verifies over the exact payload string with a key of the partner."""
    if signing.verify_any(str(body["payload"]), str(body["signature"]), partner.keys) is None:
        raise RuleViolation(
            rules.SIG_INVALID,
            "signature verification failed: the signature does not verify over the payload with "
            "any signing key registered for this partner",
        )
