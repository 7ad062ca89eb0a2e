"""Copies of the independent partner app (partner_app.py) with ONE planted defect each, as
subclasses overriding the one step they get wrong. They exist only here: shipped code has no
defect switches. Each maps to the rule of partner-hosted.yaml hosted-test must name."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import jwt

from tests.hostedtest.partner_app import Ledger, PartnerApp, PartnerConfig, Refusal


class NoSignatureCheck(PartnerApp):
    """Trusts every call, signed or not."""

    def authenticate(self, request: Any, body: bytes) -> None:
        return None


class ExpiredAccepted(PartnerApp):
    """Verifies the signature but never looks at exp (nor iat)."""

    def claims(self, token: str) -> dict[str, Any]:
        claims: dict[str, Any] = jwt.decode(
            token,
            self.config.bitgo_public_pem,
            algorithms=["RS256"],
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
        return claims


class ReplayAccepted(PartnerApp):
    """Never remembers a jti."""

    def check_fresh(self, jti: str) -> None:
        return None


class Hs256Confusion(PartnerApp):
    """Takes the token's alg at its word: HS256 is checked with the public key PEM as secret."""

    def claims(self, token: str) -> dict[str, Any]:
        if jwt.get_unverified_header(token).get("alg") != "HS256":
            return super().claims(token)
        signing_input, _, signature = token.rpartition(".")
        secret = self.config.bitgo_public_pem.encode()
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        if base64.urlsafe_b64encode(mac).rstrip(b"=").decode() != signature:
            raise Refusal(401, "bad HS256 signature")
        payload = signing_input.split(".")[1]
        claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * 4))
        return claims


class RetriesNotIdempotent(PartnerApp):
    """An identical retry makes a new reservation instead of answering the stored one."""

    def retry(
        self, kind: str, existing: dict[str, Any], data: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        status, answer = super().retry(kind, existing, data)
        if kind == "allocation":
            return 200, self.present(self.create(kind, data))
        return status, answer


class RacingDuplicates(PartnerApp):
    """No lock between looking an id up and inserting it (and a slow database where hosted-test
    races, the first allocation of a connection: 0.1 s, so the window is wide enough to see on
    a loaded machine)."""

    def __init__(self, config: PartnerConfig) -> None:
        super().__init__(config)
        self.io_delay_s = 0.1

    @asynccontextmanager
    async def guard(self) -> AsyncIterator[None]:
        yield


class ClearedReservedAgain(PartnerApp):
    """A cleared allocation sent again is reserved again (the guides' "reserve again")."""

    def retry(
        self, kind: str, existing: dict[str, Any], data: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        if kind == "allocation" and existing["status"] == "cleared":
            return 200, self.present(self.create(kind, data))
        return super().retry(kind, existing, data)


class NoSharedIndex(PartnerApp):
    """Allocation and deallocation ids in two separate indexes."""

    def find(self, kind: str, record_id: str) -> dict[str, Any] | None:
        return self.state.records.get(f"{kind}:{record_id}")

    def save(self, kind: str, record_id: str, record: dict[str, Any]) -> None:
        self.state.records[f"{kind}:{record_id}"] = record


class TwoConnectionsPerAccount(PartnerApp):
    """Links an account to every connection that brings its token."""

    def check_account_free(self, token: str) -> None:
        return None


class Overdraw(PartnerApp):
    """Holds a deallocation whatever the free balance."""

    def affordable(self, ledger: Ledger, wanted: int) -> bool:
        return True


class ClearUnknown200(PartnerApp):
    """Answers 200 to a clear or release of an id it never saw."""

    def unknown(self, kind: str, record_id: str, action: str) -> tuple[int, dict[str, Any]]:
        status = "cleared" if action == "clear" else "released"
        return 200, {f"{kind}Id": record_id, "status": status}


class ResponseFieldMissing(PartnerApp):
    """Leaves partnersClientId, a required field, out of allocation and deallocation records."""

    def present(self, record: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in super().present(record).items() if k != "partnersClientId"}


# (defect, the rule hosted-test must report FAILED, every rule it reports FAILED): the same
# defect may break more than one promise, but the suite blames nothing else.
DEFECTS: tuple[tuple[type[PartnerApp], str, frozenset[str]], ...] = (
    (NoSignatureCheck, "PH-SIG-001", frozenset({f"PH-SIG-00{n}" for n in range(1, 7)})),
    (ExpiredAccepted, "PH-SIG-003", frozenset({"PH-SIG-003"})),
    (ReplayAccepted, "PH-SIG-005", frozenset({"PH-SIG-005"})),
    (Hs256Confusion, "PH-SIG-002", frozenset({"PH-SIG-002"})),
    # The retry path is also what racing duplicates and settled records go through.
    (RetriesNotIdempotent, "PH-IDEM-001", frozenset({"PH-IDEM-001", "PH-IDEM-004", "PH-IDEM-005"})),
    (RacingDuplicates, "PH-IDEM-004", frozenset({"PH-IDEM-004"})),
    (ClearedReservedAgain, "PH-IDEM-005", frozenset({"PH-IDEM-005"})),
    (NoSharedIndex, "PH-IDEM-003", frozenset({"PH-IDEM-003"})),
    (TwoConnectionsPerAccount, "PH-CON-003", frozenset({"PH-CON-003"})),
    (Overdraw, "PH-DEA-002", frozenset({"PH-DEA-002"})),
    # Its made-up 200 record also breaks the contract's schema.
    (ClearUnknown200, "PH-PUT-001", frozenset({"PH-PUT-001", "PH-RSP-001"})),
    (ResponseFieldMissing, "PH-RSP-001", frozenset({"PH-RSP-001"})),
)
