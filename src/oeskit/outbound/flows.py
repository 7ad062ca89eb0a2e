"""The sandbox as BitGo toward one namespace's partners: connect a client, allocate and
deallocate, each driven to its end through the partner's hosted endpoints.

Each flow alternates short store transactions with awaited calls (`client.PartnerClient`):
no transaction is open across an await, and a transaction re-reads the record before it moves
it, so two racing requests for the same record move it once. The rules are the domain's
(`domain/allocation_flow.py`); this module only sequences them and does the I/O.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from oeskit.domain import allocation_flow as flow
from oeskit.domain.allocation_flow import AllocationRecord, Kind, Step
from oeskit.domain.hosted_ports import HostedStore, HostedTarget, PartnerCall
from oeskit.domain.model import Balance, Connection
from oeskit.domain.sandbox_rules import SBX_NOT_FOUND, SBX_STATE
from oeskit.errors import OeskitError, RuleViolation
from oeskit.outbound import answers
from oeskit.outbound.client import ANSWERED, TRANSIENT, CallResult, PartnerClient

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa


class PartnerCallFailed(OeskitError):
    """The partner refused a call or never answered; `result` is how the last attempt ended."""

    def __init__(
        self,
        message: str,
        result: CallResult | None,
        *,
        retriable: bool,
        subject: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.result = result
        self.retriable = retriable
        self.subject = subject or {}


@dataclass(frozen=True, slots=True)
class Linked:
    connection: Connection
    partners_connection_id: str
    partners_client_id: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """Where an allocation or deallocation ended, and the call that stopped it, if any."""

    record: AllocationRecord
    failure: PartnerCallFailed | None = None


class BitgoSide:
    """One namespace's BitGo: its signing key, and the flows over its store."""

    def __init__(
        self,
        store: HostedStore,
        client: PartnerClient,
        *,
        new_id: Callable[[], str],
        now: Callable[[], str],
        supplied_key_pem: str | None = None,
    ) -> None:
        self.store = store
        self.client = client
        self.new_id = new_id
        self.now = now
        self.supplied_key_pem = supplied_key_pem
        self._key: rsa.RSAPrivateKey | None = None
        self._public_pem: str | None = None

    # --- BitGo's key ----------------------------------------------------------------------
    async def signing_key(self) -> rsa.RSAPrivateKey:
        """The key, loaded once: supplied with --bitgo-key, else kept in the database (made on
        first use). Generating and parsing RSA keys take 0.1-0.3 s: on a thread."""
        if self._key is None:
            pem = self.supplied_key_pem or self.store.bitgo_private_pem()
            if pem is None:
                from oeskit.signing import bitgo_jwt  # with cryptography: only when needed

                pair = await asyncio.to_thread(bitgo_jwt.generate_key_pair)
                pem = self.store.keep_bitgo_private_pem(pair.private_pem, self.now())
            key, public = await asyncio.to_thread(answers.load_key, pem)
            self._key, self._public_pem = key, public
        return self._key

    async def public_pem(self) -> str:
        await self.signing_key()
        assert self._public_pem is not None
        return self._public_pem

    def _record_call(self, call: PartnerCall) -> None:
        self.store.add_partner_call(call)
        body = call.request_body.encode() if call.request_body else None
        # The request log's columns (store.sandbox_state.LOG_COLUMNS); the URL stands for the
        # path, which tells an outbound row from a request the sandbox received.
        self.store.log_request(
            (
                call.at,
                call.method,
                call.url,
                call.status or 0,
                None,
                call.duration_ms,
                None,
                "application/json" if body else None,
                None,
                None,
                body,
            )
        )

    async def _call(
        self,
        target: HostedTarget,
        partner_id: str,
        subject_id: str,
        method: str,
        path: str,
        body: dict[str, Any] | None,
    ) -> CallResult:
        assert target.base_url is not None
        return await self.client.call(
            key=await self.signing_key(),
            base_url=target.base_url,
            method=method,
            path=path,
            body=body,
            partner_id=partner_id,
            subject_id=subject_id,
            record=self._record_call,
        )

    def _target(self, partner_id: str) -> HostedTarget:
        target = self.store.hosted_target(partner_id)
        if target is None:
            raise RuleViolation(SBX_NOT_FOUND, f"partner {partner_id} not found")
        if not target.base_url:
            raise RuleViolation(
                SBX_STATE,
                f"partner {partner_id} has no hosted endpoints: PUT /sandbox/partners/"
                f"{partner_id}/hosted with their baseUrl, or set hostedUrl in the world",
            )
        return target

    # --- connections ----------------------------------------------------------------------
    async def connect(self, partner_id: str, token: str, client_id: str | None) -> Linked:
        """Create the connection and announce it to the partner; the same token again returns
        the connection it linked (or resumes one whose announcement never got an answer)."""
        store = self.store
        digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
        with store.immediate():
            target = self._target(partner_id)
            connection = store.connection_by_token(partner_id, digest)
            if connection is None:
                client = client_id or str(uuid.uuid4())
                store.add_client(client)
                connection = Connection(
                    self.new_id(), partner_id, client, str(uuid.uuid4()), "", True
                )
                store.insert_connection(connection, digest)
            else:
                known = store.partners_ids(connection.id)
                if known[0] and known[1]:
                    return Linked(connection, known[0], known[1])
        body = {
            "clientId": connection.client_id,
            "connectionId": connection.id,
            "connectionToken": token,
            "partnerId": partner_id,
        }
        result = await self._call(
            target, partner_id, connection.id, "POST", "/bitgo/v1/connections", body
        )
        subject = {"connectionId": connection.id}
        if result.outcome == TRANSIENT:
            raise PartnerCallFailed(
                f"the partner's POST /bitgo/v1/connections failed: {result.describe()}; post "
                "the same request again to resume",
                result,
                retriable=True,
                subject=subject,
            )
        if result.outcome != ANSWERED:
            with store.immediate():
                store.delete_connection(connection.id)
            raise PartnerCallFailed(
                f"the partner refused the connection: {result.describe()}",
                result,
                retriable=False,
            )
        ids = answers.connection_answer(result.json(), connection.id)
        if ids is None:
            raise PartnerCallFailed(
                "the partner's answer to POST /bitgo/v1/connections lacks partnersConnectionId/"
                f"partnersClientId or echoes another connectionId: {result.body[:500]}",
                result,
                retriable=True,
                subject=subject,
            )
        with store.immediate():
            store.link_connection(connection.id, ids[0], ids[1])
        return Linked(connection, ids[0], ids[1])

    # --- allocations and deallocations ---------------------------------------------------------
    async def move(
        self,
        kind: Kind,
        connection_id: str,
        currency_code: str,
        quantity: int,
        client_external_id: str | None,
        initiated_by: str,
    ) -> Outcome:
        """Run an allocation or deallocation to its end (or to where the partner stops it).
        The same `client_external_id` on the connection is the same request: it resumes a
        retriable record and returns any other as it is."""
        store = self.store
        with store.immediate():
            partner_id = store.connection_partner(connection_id)
            if partner_id is None:
                raise RuleViolation(SBX_NOT_FOUND, f"connection {connection_id} not found")
            partner = store.partner(partner_id)
            assert partner is not None
            target = self._target(partner_id)
            connection = store.connections(partner_id, [connection_id])[connection_id]
            ids = store.partners_ids(connection_id)
            flow.linked(connection, ids)
            currency = flow.resolve_currency(partner, currency_code)
            existing = (
                store.allocation_by_request(connection_id, client_external_id)
                if client_external_id
                else None
            )
            if existing is not None:
                if not existing.same_request(kind, currency.bitgo, quantity):
                    raise RuleViolation(
                        SBX_STATE,
                        f"clientExternalId {client_external_id!r} was used on this connection "
                        f"for a {existing.kind} of {existing.quantity} {existing.currency}",
                    )
                record = existing
            else:
                balance = store.balances([(connection_id, currency.bitgo)]).get(
                    (connection_id, currency.bitgo), Balance(0, 0)
                )
                record, delta = flow.start(
                    record_id=self.new_id(),
                    kind=kind,
                    partner=partner,
                    connection=connection,
                    currency=currency,
                    quantity=quantity,
                    balance=balance,
                    client_external_id=client_external_id or str(uuid.uuid4()),
                    initiated_by=initiated_by,
                    now=self.now(),
                )
                store.insert_allocation(record)
                self._apply(record, delta)
        if not flow.resumable(record):
            return Outcome(record)
        partners = (str(ids[0]), str(ids[1]))
        if record.step is Step.RESERVE:
            record, failure = await self._reserve(record, target, partners)
            if failure is not None:
                return Outcome(record, failure)
        if record.step is Step.CLEAR:
            record, failure = await self._clear(record, target)
            if failure is not None:
                return Outcome(record, failure)
        return Outcome(record)

    async def _reserve(
        self, record: AllocationRecord, target: HostedTarget, partners: tuple[str, str]
    ) -> tuple[AllocationRecord, PartnerCallFailed | None]:
        noun = record.kind.value
        body = {
            f"{noun}Id": record.id,
            "amount": {"currency": record.partner_currency, "quantity": str(record.quantity)},
            "clientId": record.client_id,
            "connectionId": record.connection_id,
            "partnersConnectionId": partners[0],
            "partnersClientId": partners[1],
        }
        result = await self._call(
            target, record.partner_id, record.id, "POST", f"/bitgo/v1/{noun}s", body
        )
        if result.outcome == TRANSIENT:
            return self._failed(record, f"POST /bitgo/v1/{noun}s: {result.describe()}"), None
        if result.outcome != ANSWERED:
            reason = f"the partner refused POST /bitgo/v1/{noun}s: {result.describe()}"
            done = self._finish(
                record, Step.RESERVE, lambda r: flow.after_refusal(r, reason, self.now())
            )
            return done, PartnerCallFailed(reason, result, retriable=False)
        answer = answers.reservation_answer(result.json(), record)
        if answer is None:
            reason = (
                f"the partner's answer to POST /bitgo/v1/{noun}s is not the contract's: "
                f"{result.body[:500]}"
            )
            return self._failed(record, reason), PartnerCallFailed(reason, result, retriable=True)
        done = self._finish(
            record,
            Step.RESERVE,
            lambda r: flow.after_reserve(r, answer, target.asynchronous, self.now()),
        )
        return done, None

    async def _clear(
        self, record: AllocationRecord, target: HostedTarget
    ) -> tuple[AllocationRecord, PartnerCallFailed | None]:
        path = f"/bitgo/v1/{record.kind.value}/{record.id}/clear"
        result = await self._call(target, record.partner_id, record.id, "PUT", path, None)
        if result.outcome == TRANSIENT:
            return self._failed(record, f"PUT {path}: {result.describe()}"), None
        if result.outcome != ANSWERED:
            reason = f"the partner refused PUT {path}: {result.describe()}"
            return self._failed(record, reason), PartnerCallFailed(reason, result, retriable=True)
        done = self._finish(
            record,
            Step.CLEAR,
            lambda r: flow.finish(r, flow.Status.CLEARED, None, self.now()),
        )
        return done, None

    def _failed(self, record: AllocationRecord, reason: str) -> AllocationRecord:
        return self._finish(
            record, record.step, lambda r: (flow.after_failure(r, reason, self.now()), 0)
        )

    def _finish(
        self,
        record: AllocationRecord,
        step: Step,
        change: Callable[[AllocationRecord], tuple[AllocationRecord, int]],
    ) -> AllocationRecord:
        """Apply `change` to the record as stored, if it is still at `step` (another request
        may have moved it meanwhile: then it is returned as that request left it)."""
        with self.store.immediate():
            current = self.store.allocation(record.id)
            assert current is not None
            if current.status is not flow.Status.RESERVED or current.step is not step:
                return current
            moved, delta = change(current)
            self.store.save_allocation(moved)
            self._apply(moved, delta)
            return moved

    def _apply(self, record: AllocationRecord, delta: int) -> None:
        if delta:
            self.store.move_balance(record.connection_id, record.currency, available=delta, held=0)
