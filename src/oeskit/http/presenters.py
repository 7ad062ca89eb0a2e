"""Rows from the store shaped as the contract's JSON objects (field names, optional fields)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from oeskit.domain.model import Partner
from oeskit.domain.ports import Row


def _loads(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def settlement(row: Row) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row["id"],
        "partnerId": row["partner_id"],
        "externalId": row["external_id"],
        "status": row["status"],
        "settlementType": "offchain",
        "reconciled": False,
        "initiatedBy": row["initiated_by"],
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
        "lossSLAAlertSent": False,
        "gainSLAAlertSent": False,
        "disputed": bool(row["disputed"]),
    }
    if row.get("notes") is not None:
        out["notes"] = row["notes"]
    if row.get("cutoff_at"):
        out["cutoffAt"] = row["cutoff_at"]
    if row.get("finalized_at"):
        out["finalizedAt"] = row["finalized_at"]
    if row.get("reason"):
        out["reason"] = row["reason"]
    return out


def transfer(row: Row) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row["id"],
        "sourceTradingAccountId": row["source_trading_account_id"],
        "destinationTradingAccountId": row["destination_trading_account_id"],
        "destinationNetworkAccountId": row["destination_network_account_id"],
        "currency": row["currency"],
        "quantity": row["quantity"],
        "status": row["status"],
        "txIds": _loads(row["tx_ids"]),
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
    }
    if row.get("settlement_id"):
        out["settlementId"] = row["settlement_id"]
    if row.get("source_network_account_id"):
        out["sourceNetworkAccountId"] = row["source_network_account_id"]
    if row.get("dispute_closure_id"):
        out["disputeClosureId"] = row["dispute_closure_id"]
    return out


def adjusted_transfer(row: Row) -> dict[str, Any]:
    out = transfer(row)
    out.pop("txIds", None)
    return out


def closure(row: Row) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row["id"],
        "closedBy": row["closed_by"],
        "userId": row["user_id"],
        "notes": row["notes"],
        "status": row["status"],
        "adjustedTransfers": _loads(row["adjusted_transfers"]),
        "adjustedSettlementTransfers": [adjusted_transfer(t) for t in row.get("transfers", [])],
        "createdAt": row["created_at"],
    }
    for key, name in (("reviewed_by", "reviewedBy"), ("review_notes", "reviewNotes")):
        if row.get(key):
            out[name] = row[key]
    return out


def dispute(row: Row) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row["id"],
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
        "connectionId": row["connection_id"],
        "disputedSettlementId": row["disputed_settlement_id"],
        "userId": row["user_id"],
        "expectedTransfers": _loads(row["expected_transfers"]),
        "retracted": bool(row["retracted"]),
    }
    for key, name in (
        ("settled_in_settlement_id", "settledInSettlementId"),
        ("reason", "reason"),
        ("retracted_by", "retractedBy"),
        ("retracted_at", "retractedAt"),
        ("dispute_closure_id", "disputeClosureId"),
        ("retracted_reason", "retractedReason"),
    ):
        if row.get(key) is not None:
            out[name] = row[key]
    if row.get("closure"):
        out["disputeClosure"] = closure(row["closure"])
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


def balance_record(partner: Partner, rows: list[Row]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for row in rows:
        code, available = to_partner_units(partner, row["currency"], int(row["available"]))
        _, held = to_partner_units(partner, row["currency"], int(row.get("held", 0) or 0))
        out[code] = {"available": available, "held": held}
    return out


def clock(state_now: str, mode: str, speed: float) -> Mapping[str, Any]:
    return {"now": state_now, "mode": mode, "speed": speed}
