"""Control-plane routes of the sandbox as BitGo toward partners' hosted endpoints (sandbox.yaml,
tag Partner-hosted): BitGo's key, where a partner lives, connect, allocate, deallocate, and the
calls made. Each action answers when its flow has ended (`outbound/flows.py`)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from oeskit.domain import allocation_flow as flow
from oeskit.domain.allocation_flow import Kind
from oeskit.domain.model import Balance
from oeskit.domain.sandbox_rules import SBX_INVALID, SBX_NOT_FOUND
from oeskit.errors import RuleViolation
from oeskit.http import hosted_presenters as present
from oeskit.http.handlers import json_response
from oeskit.http.services import UsesServices
from oeskit.outbound.flows import PartnerCallFailed

PARTNER_FAILED = 502
INITIATED_BY = "sandbox"  # the control plane acts for the client


class HostedSandboxRoutes(UsesServices):
    async def sandboxBitgoKey(self) -> Response:
        return json_response({"publicKey": await self.s.bitgo.public_pem()})

    async def sandboxSetHosted(self, partnerId: str, body: dict[str, Any]) -> Response:
        store = self.s.store
        flow.check_base_url(body["baseUrl"])
        with store.immediate():
            if store.hosted_target(partnerId) is None:
                raise RuleViolation(SBX_NOT_FOUND, f"partner {partnerId} not found")
            store.set_hosted_target(partnerId, body["baseUrl"], body.get("asyncAllocations"))
            target = store.hosted_target(partnerId)
        assert target is not None
        return json_response(
            {
                "partnerId": partnerId,
                "baseUrl": target.base_url,
                "asyncAllocations": target.asynchronous,
            }
        )

    async def sandboxConnect(self, body: dict[str, Any]) -> Response:
        try:
            found = await self.s.bitgo.connect(
                body["partnerId"], body["connectionToken"], body.get("clientId")
            )
        except PartnerCallFailed as failure:
            return json_response(present.partner_failed(failure), PARTNER_FAILED)
        return json_response({"connection": present.linked(found)})

    async def sandboxAllocate(self, connectionId: str, body: dict[str, Any]) -> Response:
        return await self._move(Kind.ALLOCATION, connectionId, body)

    async def sandboxDeallocate(self, connectionId: str, body: dict[str, Any]) -> Response:
        return await self._move(Kind.DEALLOCATION, connectionId, body)

    async def _move(self, kind: Kind, connection_id: str, body: dict[str, Any]) -> Response:
        s = self.s
        try:
            quantity = int(body["quantity"])
        except ValueError:  # more digits than Python converts; the schema caps them anyway
            raise RuleViolation(SBX_INVALID, "quantity has too many digits") from None
        outcome = await s.bitgo.move(
            kind,
            connection_id,
            body["currency"],
            quantity,
            body.get("clientExternalId"),
            INITIATED_BY,
        )
        record = outcome.record
        if outcome.failure is not None:
            return json_response(present.partner_failed(outcome.failure, record), PARTNER_FAILED)
        key = (record.connection_id, record.currency)
        balance = s.store.balances([key]).get(key, Balance(0, 0))
        return json_response(
            {
                kind.value: present.allocation(record),
                "balance": {"available": str(balance.available), "held": str(balance.held)},
            }
        )

    async def sandboxPartnerCalls(
        self, limit: int = 100, partnerId: str | None = None, subjectId: str | None = None
    ) -> Response:
        calls = self.s.store.partner_calls(limit, partner_id=partnerId, subject_id=subjectId)
        return json_response({"calls": [present.partner_call(c) for c in calls]})
