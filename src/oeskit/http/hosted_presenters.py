"""JSON of the sandbox's BitGo side: allocation records (BitGo's partner allocations shape),
linked connections, partner calls and the 502 of a partner that failed a call. Field names
only; the schemas are in openapi.yaml and sandbox.yaml."""

from __future__ import annotations

from typing import Any

from oeskit.domain.allocation_flow import AllocationRecord
from oeskit.domain.hosted_ports import PartnerCall
from oeskit.domain.sandbox_rules import SBX_PARTNER
from oeskit.outbound.flows import Linked, PartnerCallFailed

REDACTED = "***redacted***"


def allocation(record: AllocationRecord) -> dict[str, Any]:
    """An allocation or deallocation as BitGo lists it for a partner (partner currency code)."""
    out: dict[str, Any] = {
        "id": record.id,
        "type": record.kind.value,
        "amount": {"currency": record.partner_currency, "quantity": str(record.quantity)},
        "connectionId": record.connection_id,
        "clientExternalId": record.client_external_id,
        "initiatedBy": record.initiated_by,
        "createdAt": record.created_at,
        "updatedAt": record.updated_at,
        "retriable": record.retriable,
        "reason": record.reason,
        "status": record.status.value,
    }
    if record.partner_external_id:
        out["partnerExternalId"] = record.partner_external_id
    return out


def linked(found: Linked) -> dict[str, Any]:
    c = found.connection
    return {
        "id": c.id,
        "partnerId": c.partner_id,
        "clientId": c.client_id,
        "networkAccountId": c.network_account_id,
        "active": c.active,
        "partnersConnectionId": found.partners_connection_id,
        "partnersClientId": found.partners_client_id,
    }


def partner_call(call: PartnerCall) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": call.id,
        "at": call.at,
        "partnerId": call.partner_id,
        "subjectId": call.subject_id,
        "method": call.method,
        "url": call.url,
        "path": call.path,
        "attempt": call.attempt,
        "status": call.status,
        "outcome": call.outcome,
        "error": call.error,
        "jti": call.jti,
        "signature": REDACTED,
        "durationMs": call.duration_ms,
        "requestBody": call.request_body,
        "responseBody": call.response_body,
    }
    return {k: v for k, v in out.items() if v is not None}


def partner_failed(
    failure: PartnerCallFailed, record: AllocationRecord | None = None
) -> dict[str, Any]:
    """The 502 body: what failed, the partner's last status and body, whether to retry."""
    out: dict[str, Any] = {
        "error": failure.message,
        "rule": SBX_PARTNER,
        "retriable": failure.retriable,
        **failure.subject,
    }
    if failure.result is not None and failure.result.status is not None:
        out["partnerStatus"] = failure.result.status
        out["partnerBody"] = failure.result.body
    if record is not None:
        out[record.kind.value] = allocation(record)
    return out
