"""BitGo's partner allocation routes of openapi.yaml: the list of allocations and deallocations,
and the updates a partner with async allocations sends (`domain/allocation_updates.py`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from oeskit.clock import format_instant
from oeskit.domain import access, allocation_updates
from oeskit.domain.allocation_flow import AllocationRecord, Kind
from oeskit.domain.hosted_ports import AllocationFilter
from oeskit.http import hosted_presenters
from oeskit.http.handlers import PartnerRoutes, _list, _page, json_response
from oeskit.http.services import UsesServices


class AllocationRoutes(UsesServices):
    # GET /api/network/v1/enterprises/{enterpriseId}/partners/allocations
    async def v1PartnerAllocationsGetRoute(
        self, enterpriseId: str, token_info: Mapping[str, Any], **params: Any
    ) -> Response:
        partner = access.authorize(self.s.store, token_info["caller"], enterpriseId, write=False)
        page = _page(params)
        rows = self.s.store.list_allocations(
            partner.id,
            AllocationFilter(
                ids=_list(params.get("allocationIds")),
                kinds=_list(params.get("types")),
                statuses=_list(params.get("statuses")),
                currencies=_list(params.get("currencies")),
                connection_ids=_list(params.get("connectionIds")),
                client_ids=_list(params.get("clientIds")),
                sort_field=params.get("sortField"),
                descending=params.get("sortDirection") == "DESC",
                page=page["page"],
                size=page["size"],
            ),
        )
        return json_response({"allocations": [hosted_presenters.allocation(r) for r in rows]})

    # PUT /api/network/v1/enterprises/{enterpriseId}/partners/allocations
    async def v1PartnerAllocationsPutRoute(
        self, enterpriseId: str, body: dict[str, Any], token_info: Mapping[str, Any]
    ) -> Response:
        return self._update(Kind.ALLOCATION, enterpriseId, body, token_info)

    # PUT /api/network/v1/enterprises/{enterpriseId}/partners/deallocations
    async def V1PartnerDeallocationsPutRoute(
        self, enterpriseId: str, body: dict[str, Any], token_info: Mapping[str, Any]
    ) -> Response:
        return self._update(Kind.DEALLOCATION, enterpriseId, body, token_info)

    def _update(
        self, kind: Kind, enterprise_id: str, body: dict[str, Any], token_info: Mapping[str, Any]
    ) -> Response:
        s = self.s
        partner = access.authorize(
            s.store, token_info["caller"], enterprise_id, write=True, active=True
        )
        allocation_updates.check_signature(partner, body)
        with s.store.immediate():
            record = allocation_updates.apply(s.store, partner, kind, body, format_instant(s.now()))
            account, user = s.store.partners_ids(record.connection_id)
        return json_response(_echo(record, account, user))


def _echo(record: AllocationRecord, account: str | None, user: str | None) -> dict[str, Any]:
    noun = record.kind.value
    return {
        f"{noun}Id": record.id,
        "amount": {"currency": record.partner_currency, "quantity": str(record.quantity)},
        "clientId": record.client_id,
        "connectionId": record.connection_id,
        "partnersClientId": user,
        "partnersConnectionId": account,
        f"partners{noun.capitalize()}Id": record.partner_external_id,
    }


class PartnerApiRoutes(AllocationRoutes, PartnerRoutes):
    """Every operation of openapi.yaml, resolved by operationId (built once per app)."""
