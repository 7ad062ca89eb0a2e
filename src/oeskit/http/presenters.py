"""Records shaped as the contract's JSON objects (field names, optional fields): the one place
that maps `domain/records.py` to what partners and the control plane read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from oeskit.domain.model import Balance, Partner
from oeskit.domain.records import (
    Closure,
    ConnectionBalances,
    DisputeView,
    Job,
    OutboxEvent,
    Settlement,
    Transfer,
)


def settlement(record: Settlement) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": record.id,
        "partnerId": record.partner_id,
        "externalId": record.external_id,
        "status": record.status.value,
        "settlementType": "offchain",
        "reconciled": False,
        "initiatedBy": record.initiated_by,
        "createdAt": record.created_at,
        "updatedAt": record.updated_at,
        "lossSLAAlertSent": False,
        "gainSLAAlertSent": False,
        "disputed": record.disputed,
    }
    if record.notes is not None:
        out["notes"] = record.notes
    if record.cutoff_at:
        out["cutoffAt"] = record.cutoff_at
    if record.finalized_at:
        out["finalizedAt"] = record.finalized_at
    if record.reason:
        out["reason"] = record.reason
    return out


def transfer(record: Transfer) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": record.id,
        "sourceTradingAccountId": record.source_trading_account_id,
        "destinationTradingAccountId": record.destination_trading_account_id,
        "destinationNetworkAccountId": record.destination_network_account_id,
        "currency": record.currency,
        "quantity": record.quantity,
        "status": record.status.value,
        "txIds": list(record.tx_ids),
        "createdAt": record.created_at,
        "updatedAt": record.updated_at,
    }
    if record.settlement_id:
        out["settlementId"] = record.settlement_id
    if record.source_network_account_id:
        out["sourceNetworkAccountId"] = record.source_network_account_id
    if record.dispute_closure_id:
        out["disputeClosureId"] = record.dispute_closure_id
    return out


def adjusted_transfer(record: Transfer) -> dict[str, Any]:
    """A transfer as a closure lists it: no txIds."""
    out = transfer(record)
    del out["txIds"]
    return out


def closure(record: Closure, transfers: tuple[Transfer, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": record.id,
        "closedBy": record.closed_by.value,
        "userId": record.user_id,
        "notes": record.notes,
        "status": record.status.value,
        "adjustedTransfers": dict(record.adjusted_transfers),
        "adjustedSettlementTransfers": [adjusted_transfer(t) for t in transfers],
        "createdAt": record.created_at,
    }
    if record.reviewed_by:
        out["reviewedBy"] = record.reviewed_by
    if record.review_notes:
        out["reviewNotes"] = record.review_notes
    return out


def dispute(view: DisputeView) -> dict[str, Any]:
    record = view.dispute
    out: dict[str, Any] = {
        "id": record.id,
        "createdAt": record.created_at,
        "updatedAt": record.updated_at,
        "connectionId": record.connection_id,
        "disputedSettlementId": record.disputed_settlement_id,
        "userId": record.user_id,
        "expectedTransfers": dict(record.expected_transfers),
        "retracted": record.retracted,
    }
    for name, value in (
        ("settledInSettlementId", record.settled_in_settlement_id),
        ("reason", record.reason),
        ("retractedBy", record.retracted_by),
        ("retractedAt", record.retracted_at),
        ("disputeClosureId", record.dispute_closure_id),
        ("retractedReason", record.retracted_reason),
    ):
        if value is not None:
            out[name] = value
    if view.closure is not None:
        out["disputeClosure"] = closure(view.closure, view.closure_transfers)
    return out


def to_partner_units(partner: Partner, bitgo_currency: str, amount: int) -> tuple[str, str]:
    """(partner currency code, amount in the partner's format) for a BitGo base-unit amount."""
    currency = partner.currency_by_bitgo(bitgo_currency)
    if currency is None:
        return bitgo_currency, str(amount)
    if partner.amount_format != "fullUnits" or currency.decimals == 0:
        return currency.code, str(amount)
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), 10**currency.decimals)
    text = f"{whole}.{fraction:0{currency.decimals}d}".rstrip("0").rstrip(".")
    return currency.code, sign + text


def balance_record(partner: Partner, balances: Mapping[str, Balance]) -> dict[str, dict[str, str]]:
    """Balances by BitGo currency as the partner reads them: its codes, its amount format."""
    out: dict[str, dict[str, str]] = {}
    for bitgo, balance in balances.items():
        code, available = to_partner_units(partner, bitgo, balance.available)
        _, held = to_partner_units(partner, bitgo, balance.held)
        out[code] = {"available": available, "held": held}
    return out


def network_balance(partner: Partner, connection: ConnectionBalances) -> dict[str, Any]:
    """One entry of networkBalances. `partnersConnectionId` is a required string (the reads
    leave out connections the partner has not initialized)."""
    return {
        "clientId": connection.client_id,
        "partnerId": partner.id,
        "partnersConnectionId": connection.partners_connection_id,
        "balances": balance_record(partner, connection.balances),
    }


def job(record: Job) -> dict[str, Any]:
    return {
        "id": record.id,
        "kind": record.kind.value,
        "settlementId": record.settlement_id,
        "dueAt": record.due_at,
        "status": record.status.value,
        "attempts": record.attempts,
    }


def outbox_event(event: OutboxEvent) -> dict[str, Any]:
    """An outbox event of the control plane; fields without a value are left out."""
    return {
        k: v
        for k, v in {
            "id": event.id,
            "type": event.type.value,
            "at": event.at,
            "settlementId": event.settlement_id,
            "clientId": event.client_id,
            "connectionId": event.connection_id,
            "data": event.data,
        }.items()
        if v is not None
    }


def clock(state_now: str, mode: str, speed: float) -> Mapping[str, Any]:
    return {"now": state_now, "mode": mode, "speed": speed}
