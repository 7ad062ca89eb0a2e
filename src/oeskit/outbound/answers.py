"""Reading what a partner's endpoint answered (and BitGo's key PEM) for the flows: the
contract's fields only, anything else is `None` (the flow then treats the answer as not the
contract's). No I/O."""

from __future__ import annotations

from typing import TYPE_CHECKING

from oeskit.domain.allocation_flow import AllocationRecord, PartnerAnswer

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

_ANSWER_STATUSES = frozenset({"reserved", "rejected", "cleared", "released"})


def load_key(private_pem: str) -> tuple[rsa.RSAPrivateKey, str]:
    # cryptography and PyJWT are imported on the first partner call, not by `oeskit serve`'s
    # start-up (~35 ms and a few MB of RSS most sandboxes never use).
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from oeskit.signing import bitgo_jwt

    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise bitgo_jwt.InvalidKeyPem("BitGo's key must be an RSA private key (RS256)")
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, public.decode()


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def connection_answer(data: object, connection_id: str) -> tuple[str, str] | None:
    if not isinstance(data, dict) or data.get("connectionId") not in (None, connection_id):
        return None
    account, user = _text(data.get("partnersConnectionId")), _text(data.get("partnersClientId"))
    return (account, user) if account and user else None


def reservation_answer(data: object, record: AllocationRecord) -> PartnerAnswer | None:
    """The partner's 200 to a POST, if it is the contract's: status, its id, a reason."""
    if not isinstance(data, dict):
        return None
    noun = record.kind.value
    status = data.get("status")
    if status not in _ANSWER_STATUSES or data.get(f"{noun}Id") not in (None, record.id):
        return None
    return PartnerAnswer(
        status=str(status),
        partner_ref=_text(data.get(f"partners{noun.capitalize()}Id")),
        rejection_reason=_text(data.get("rejectionReason")),
    )
