"""The sandbox control plane (`sandbox.yaml`, served under /sandbox): state, clock, jobs,
disputes, balances, faults, outbox and the request log. Test tooling, not the contract."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.responses import Response

from oeskit import signing
from oeskit.clock import ClockState, format_instant, parse_instant, utcnow
from oeskit.domain import disputes, funding, lifecycle
from oeskit.domain.sandbox_rules import SBX_INVALID, SBX_NO_PRIVATE_KEY, SBX_NOT_FOUND
from oeskit.errors import RuleViolation
from oeskit.http import presenters, request_log
from oeskit.http.handlers import json_response
from oeskit.http.hosted_routes import HostedSandboxRoutes
from oeskit.http.namespaces import Namespaces
from oeskit.http.services import UsesServices
from oeskit.worlds import WorldError, validate_world

# sandbox.yaml's `advanceMinutes` maximum: 100 years of minutes, far inside datetime's range.
MAX_ADVANCE_MINUTES = 52_596_000


class SandboxRoutes(HostedSandboxRoutes, UsesServices):
    def __init__(self, namespaces: Namespaces) -> None:
        self.namespaces = namespaces

    def _run_jobs(self) -> int:
        ran = lifecycle.run_due(self.s.store, self.s.now(), self.s.new_id, "sandbox")
        self.s.metrics.jobs_run(ran)
        return ran

    def _clock(self) -> dict[str, Any]:
        state = self.s.store.clock_state()
        return {
            "now": format_instant(state.now(utcnow())),
            "mode": state.mode,
            "speed": state.speed,
        }

    async def sandboxReset(self) -> Response:
        self.s.worlds.reset()
        return json_response({"status": "reset"})

    async def sandboxLoadWorld(self, body: dict[str, Any], mode: str = "replace") -> Response:
        try:
            world = validate_world(body)
            loaded = self.s.worlds.load(
                world, utcnow(), self.s.settings.clock, merge=mode == "merge"
            )
        except WorldError as exc:
            raise RuleViolation(SBX_INVALID, f"invalid world: {exc}") from None
        return json_response({"loaded": loaded})

    async def sandboxGetClock(self) -> Response:
        return json_response(self._clock())

    async def sandboxSetClock(self, body: dict[str, Any]) -> Response:
        store = self.s.store
        minutes = body.get("advanceMinutes")
        if minutes is not None and not 0 <= float(minutes) <= MAX_ADVANCE_MINUTES:
            # The schema says so too; this keeps timedelta's own overflow message out of reach.
            raise RuleViolation(
                SBX_INVALID,
                f"advanceMinutes must be between 0 and {MAX_ADVANCE_MINUTES} (100 years); "
                "set `now` to jump further",
            )
        # One transaction for the move and the jobs it makes due: if a job fails, the clock
        # has not moved either, so a retry moves it once (each job is a savepoint inside).
        with store.immediate():
            store.set_clock_state(self._moved(store.clock_state(), body, minutes))
            ran = self._run_jobs()
        return json_response({"clock": self._clock(), "jobsRun": ran})

    @staticmethod
    def _moved(state: ClockState, body: dict[str, Any], minutes: Any) -> ClockState:
        """The clock state the request asks for, or the rule it breaks."""
        try:
            target = parse_instant(body["now"]) if body.get("now") else None
            advance = timedelta(minutes=float(minutes)) if minutes is not None else None
            return state.set(
                utcnow(),
                now=target,
                mode=body.get("mode"),
                speed=body.get("speed"),
                advance=advance,
            )
        except OverflowError:  # past year 9999, datetime's last
            raise RuleViolation(
                SBX_INVALID, "the clock cannot move past 9999-12-31T23:59:59.999Z"
            ) from None
        except ValueError as exc:  # a leap second; an unknown mode
            raise RuleViolation(SBX_INVALID, f"the clock cannot be set so: {exc}") from None

    async def sandboxListJobs(self) -> Response:
        return json_response({"jobs": [presenters.job(j) for j in self.s.reads.jobs()]})

    async def sandboxRunJobs(self) -> Response:
        return json_response({"jobsRun": self._run_jobs()})

    def _dispute_view(self, dispute_id: str) -> Response:
        view = self.s.reads.dispute_view(dispute_id)
        assert view is not None  # the action before it found the dispute
        return json_response({"dispute": presenters.dispute(view)})

    async def sandboxRaiseDispute(self, body: dict[str, Any]) -> Response:
        dispute_id = disputes.raise_dispute(
            self.s.store,
            body["settlementId"],
            body["connectionId"],
            self.s.now(),
            self.s.new_id,
            user_id=body.get("userId", "client-user"),
            reason=body.get("reason"),
            expected=body.get("expectedTransfers"),
        )
        return self._dispute_view(dispute_id)

    async def sandboxRetractDispute(
        self, disputeId: str, body: dict[str, Any] | None = None
    ) -> Response:
        body = body or {}
        disputes.retract(
            self.s.store,
            disputeId,
            self.s.now(),
            retracted=body.get("retracted", True),
            reason=body.get("reason"),
        )
        return self._dispute_view(disputeId)

    async def sandboxCloseDispute(self, disputeId: str, body: dict[str, Any]) -> Response:
        disputes.close(
            self.s.store,
            disputeId,
            self.s.now(),
            self.s.new_id,
            closed_by=body["closedBy"],
            status=body["status"],
            notes=body["notes"],
            adjusted=body.get("adjustedTransfers"),
            user_id=body.get("userId", "bitgo-admin"),
        )
        return self._dispute_view(disputeId)

    async def sandboxAdjustBalance(self, body: dict[str, Any]) -> Response:
        try:
            amount = int(body["amount"])
        except ValueError:  # more digits than Python converts (4300); the schema sets no cap
            raise RuleViolation(SBX_INVALID, "amount has too many digits") from None
        balance = funding.adjust(
            self.s.store,
            body["currency"],
            amount,
            connection_id=body.get("connectionId"),
            partner_id=body.get("partnerId"),
        )
        return json_response(
            {"balance": {"available": str(balance.available), "held": str(balance.held)}}
        )

    async def sandboxAddFault(self, body: dict[str, Any]) -> Response:
        if body["kind"] == "fail_after_commit" and not (
            body.get("externalId") or body.get("enterpriseId")
        ):
            raise RuleViolation(
                SBX_INVALID, "a fail_after_commit fault needs an externalId or an enterpriseId"
            )
        self.s.store.add_fault(
            body["kind"],
            external_id=body.get("externalId"),
            enterprise_id=body.get("enterpriseId"),
            milliseconds=body.get("milliseconds"),
            retry_after=body.get("retryAfterSeconds"),
            count=body.get("count", 1),
        )
        return await self.sandboxListFaults()

    async def sandboxListFaults(self, enterpriseId: str | None = None) -> Response:
        faults = self.s.store.faults(enterpriseId)
        return json_response({"faults": [_fault(f) for f in faults]})

    async def sandboxClearFaults(self, enterpriseId: str | None = None) -> Response:
        self.s.store.clear_faults(enterpriseId)
        return await self.sandboxListFaults()

    async def sandboxOutbox(
        self, type: str | None = None, settlementId: str | None = None
    ) -> Response:
        events = self.s.reads.outbox(event_type=type, settlement_id=settlementId)
        return json_response({"events": [presenters.outbox_event(e) for e in events]})

    async def sandboxRequests(
        self, limit: int = 100, enterpriseId: str | None = None, signatures: bool = False
    ) -> Response:
        self.s.store.flush_request_log()
        rows = self.s.reads.requests(limit, enterprise_id=enterpriseId)
        return json_response(
            {"requests": [request_log.present(r, signatures=signatures) for r in rows]}
        )

    # Namespaces are managed from the default namespace only: from inside one, the others
    # (even their names) are out of sight.
    def _managing(self) -> None:
        if self.s.namespace:
            raise RuleViolation(
                SBX_NOT_FOUND,
                "namespaces are listed and deleted on the default namespace's control plane "
                "(/sandbox/namespaces, without the /ns/{name} prefix)",
            )

    async def sandboxListNamespaces(self) -> Response:
        self._managing()
        names = self.namespaces.names()
        limit = self.s.settings.max_namespaces
        return json_response({"namespaces": [{"name": name} for name in names], "limit": limit})

    async def sandboxDeleteNamespace(self, name: str) -> Response:
        self._managing()
        if not self.namespaces.delete(name):
            raise RuleViolation(SBX_NOT_FOUND, f"there is no namespace {name!r}")
        return json_response({"deleted": name})

    async def sandboxSign(
        self, body: dict[str, Any], enterpriseId: str, scheme: str = signing.ED25519
    ) -> Response:
        """The complete staging body, signed with a private key the loaded world holds."""
        found = self.s.reads.partner_keys(enterpriseId)
        if found is None:
            raise RuleViolation(SBX_NOT_FOUND, f"enterprise {enterpriseId} has no partner")
        partner_id, keys = found
        key = next((k for k in keys if k.get("scheme") == scheme and k.get("privateKey")), None)
        if key is None:
            raise RuleViolation(
                SBX_NO_PRIVATE_KEY,
                f"the loaded world holds no {scheme} private key for partner {partner_id}",
            )
        fields = dict(body)
        fields.setdefault("nonce", signing.new_nonce())
        signing_key = signing.SigningKey(scheme, key["publicKey"], key["privateKey"])
        return json_response(signing.sign_body(fields, signing_key))


def _fault(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": row["id"], "kind": row["kind"], "remaining": row["remaining"]}
    if row["external_id"]:
        out["externalId"] = row["external_id"]
    if row["enterprise_id"]:
        out["enterpriseId"] = row["enterprise_id"]
    if row["milliseconds"] is not None:
        out["milliseconds"] = row["milliseconds"]
    if row["retry_after"] is not None:
        out["retryAfterSeconds"] = row["retry_after"]
    return out
