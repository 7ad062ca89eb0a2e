"""Steps 5 and 6: the signature is well formed, the payload is the body, and a key verifies it."""

from __future__ import annotations

from collections.abc import Mapping

from oeskit import signing
from oeskit.domain import rules
from oeskit.domain.model import Partner
from oeskit.errors import RuleViolation


def check(partner: Partner, body: Mapping[str, object]) -> None:
    """Raise the first rule the request's signature breaks; return when it verifies."""
    payload = str(body["payload"])
    signature = str(body["signature"])
    schemes = sorted({key.scheme for key in partner.keys})
    problems: list[str] = []
    for scheme in schemes:
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
        signed = signing.parse_payload(payload)
    except signing.PayloadNotJSON as exc:
        raise RuleViolation(
            rules.SIG_PAYLOAD_JSON, f"payload must be a JSON object: {exc}"
        ) from None
    mismatches = signing.payload_mismatches(signed, body)
    if mismatches:
        raise RuleViolation(
            rules.SIG_PAYLOAD_MISMATCH,
            "payload does not match the request: these signed fields differ from the body: "
            + ", ".join(mismatches),
        )
    if signing.verify_any(payload, signature, partner.keys) is None:
        raise RuleViolation(
            rules.SIG_INVALID,
            "signature verification failed: the signature does not verify over the payload with "
            "any signing key registered for this partner",
        )
