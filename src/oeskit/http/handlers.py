"""Partner routes of openapi.yaml, resolved by operationId. Each handler: parse, call the
domain, present. No business `if`s here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

from oeskit import signing
from oeskit.clock import format_instant, parse_instant
from oeskit.domain import access, rules, signatures, staging
from oeskit.domain.model import Caller, Partner
from oeskit.errors import RuleViolation
from oeskit.http import presenters, request_log
from oeskit.http.services import UsesServices
from oeskit.http.validation import amounts_from_query


def json_response(data: object, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _list(value: object) -> list[str]:
    """The values of an array parameter. A literal comma was already made a repetition
    (`http/query.py`); a comma still here was sent encoded, so it is part of the value."""
    if value is None:
        return []
    return [str(item) for item in (value if isinstance(value, list) else [value])]


def _page(params: Mapping[str, Any]) -> dict[str, int]:
    return {"page": int(params.get("pageNumber") or 0), "size": int(params.get("pageSize") or 100)}


class PartnerRoutes(UsesServices):
    """Built once; `self.s` is the services of the namespace the request addresses."""

    def _partner(
        self,
        token_info: Mapping[str, Any],
        enterprise_id: str,
        *,
        write: bool = False,
        active: bool = False,
        staging_route: bool = False,
    ) -> Partner:
        caller: Caller = token_info["caller"]
        return access.authorize(
            self.s.store, caller, enterprise_id, write=write, active=active, staging=staging_route
        )

    # POST /api/network/v2/enterprises/{enterpriseId}/partners/settlements
    async def v2PartnerSettlementsPostRoute(
        self, enterpriseId: str, body: dict[str, Any], token_info: Mapping[str, Any]
    ) -> Response:
        return json_response(await self.stage(enterpriseId, body, token_info["caller"]))

    async def stage(
        self, enterprise_id: str, body: dict[str, Any], caller: Caller
    ) -> dict[str, Any]:
        """Steps 3 to 10 of the staging path for a body that already matches the contract;
        shared by the connexion route and the fast lane (`http/fastlane.py`).

        Access and the signature are checked here, outside any transaction; the staging itself
        joins this worker's next group commit (`store/group.py`), which answers once it is
        committed and waits with an async sleep while another worker holds the write lock.
        """
        s = self.s  # the work below may run in the callback of another request's task
        partner = access.authorize(s.store, caller, enterprise_id, write=True, staging=True)
        signatures.check(partner, body)
        now = s.now()
        store = s.store
        staged = await s.group.run(
            lambda: staging.stage(store, partner, caller, body, now, s.new_id)
        )
        if staged.replay:
            request_log.note_replay()  # counted apart from creations (oeskit_stagings_total)
        if staged.created is not None:  # fresh and carrying no dispute: nothing to re-read
            return {"settlement": {**presenters.settlement(staged.created), "settlingDisputes": []}}
        return {"settlement": self._staged_view(staged.settlement_id)}

    def _staged_view(self, settlement_id: str) -> dict[str, Any]:
        row = self.s.store.settlement(settlement_id)
        assert row is not None
        view = presenters.settlement(row)
        view["settlingDisputes"] = [
            presenters.dispute(d) for d in self.s.reads.settling_disputes(settlement_id)
        ]
        return view

    # GET /api/network/v1/enterprises/{enterpriseId}/partners/settlements
    async def v1PartnerSettlementsGetRoute(
        self, enterpriseId: str, token_info: Mapping[str, Any], **params: Any
    ) -> Response:
        partner = self._partner(token_info, enterpriseId)
        rows = self.s.reads.list_settlements(
            partner.id,
            settlement_ids=_list(params.get("settlementIds")),
            external_ids=_list(params.get("externalIds")),
            party_ids=_list(params.get("partyConnectionIds")),
            counterparty_ids=_list(params.get("counterpartyConnectionIds")),
            only_disputed=bool(params.get("onlyShowDisputed")),
            created_from=_instant(params.get("createdOnOrAfter")),
            created_before=_instant(params.get("createdBefore")),
            updated_from=_instant(params.get("updatedOnOrAfter")),
            updated_before=_instant(params.get("updatedBefore")),
            **_page(params),
        )
        return json_response({"settlements": [presenters.settlement(r) for r in rows]})

    # GET /api/network/v1/enterprises/{enterpriseId}/partners/settlements/{settlementId}
    async def v1PartnerSettlementGetRoute(
        self, enterpriseId: str, settlementId: str, token_info: Mapping[str, Any], **params: Any
    ) -> Response:
        partner = self._partner(token_info, enterpriseId)
        row = access.owned_settlement(self.s.store, partner, settlementId)
        transfers = self.s.reads.transfers_page(
            settlementId,
            source_network=_list(params.get("sourceNetworkAccountIds")),
            source_trading=_list(params.get("sourceTradingAccountIds")),
            destination_network=_list(params.get("destinationNetworkAccountIds")),
            destination_trading=_list(params.get("destinationTradingAccountIds")),
            currencies=_list(params.get("currencies")),
            **_page(params),
        )
        return json_response(
            {
                "settlement": presenters.settlement(row),
                "settlementTransfers": [presenters.transfer(t) for t in transfers],
                "settlingDisputes": [
                    presenters.dispute(d) for d in self.s.reads.settling_disputes(settlementId)
                ],
                "settlementDisputes": [
                    presenters.dispute(d) for d in self.s.reads.settlement_disputes(settlementId)
                ],
            }
        )

    # GET|POST /api/network/v1/enterprises/{enterpriseId}/partners/settlements-signing
    async def v1PartnerSettlementSigningGetRoute(
        self, enterpriseId: str, token_info: Mapping[str, Any], **params: Any
    ) -> Response:
        self._partner(token_info, enterpriseId, active=True)
        fields: dict[str, Any] = {
            k: params[k]
            for k in ("externalId", "notes", "nonce", "cutoffAt")
            if params.get(k) is not None
        }
        fields["settlementAmounts"] = amounts_from_query(str(params.get("settlementAmounts")))
        return json_response({"payload": signing.canonical_payload(fields)})

    async def v1PartnerSettlementsSigningPostRoute(
        self, enterpriseId: str, body: dict[str, Any], token_info: Mapping[str, Any]
    ) -> Response:
        self._partner(token_info, enterpriseId, write=True, active=True)
        return json_response({"payload": signing.canonical_payload(body)})

    # GET /api/network/v1/enterprises/{enterpriseId}/partners/balances
    async def v1PartnerBalancesGetRoute(
        self, enterpriseId: str, token_info: Mapping[str, Any], **params: Any
    ) -> Response:
        partner = self._partner(token_info, enterpriseId)
        connections, own = self.s.reads.partner_balances(
            partner.id,
            connection_ids=_list(params.get("connectionIds")),
            client_ids=_list(params.get("clientIds")),
            **_page(params),
        )
        network = {c.id: presenters.network_balance(partner, c) for c in connections}
        return json_response(
            {"networkBalances": network, "balances": presenters.balance_record(partner, own)}
        )

    # GET /api/network/v1/enterprises/{enterpriseId}/partners/settlement/disputes
    async def listPartnerSettlementDisputes(
        self, enterpriseId: str, token_info: Mapping[str, Any], **params: Any
    ) -> Response:
        partner = self._partner(token_info, enterpriseId)
        rows = self.s.reads.list_disputes(
            partner.id,
            settlement_ids=_list(params.get("settlementIds")),
            settled_in_ids=_list(params.get("settledInSettlementIds")),
            connection_ids=_list(params.get("connectionIds")),
            dispute_ids=_list(params.get("disputeIds")),
            closed=params.get("closed"),
            show_retracted=bool(params.get("showRetracted")),
            **_page(params),
        )
        return json_response({"disputes": [presenters.dispute(r) for r in rows]})


def _instant(value: object) -> str | None:
    """Filters compare against stored `toISOString()` text, so normalize the caller's instant."""
    if value is None:
        return None
    try:
        return format_instant(parse_instant(str(value)))
    except (ValueError, OverflowError):  # a leap second, or out of range once moved to UTC
        raise RuleViolation(
            rules.READ_QUERY, f"{value!r} is not an RFC 3339 date-time this server can represent"
        ) from None
