"""A partner with async allocations reports an outcome (BitGo's `PUT .../partners/allocations`
and `.../deallocations`): its signed payload, the record it names, and what the update does to
the record and the connection's balance. No I/O; the caller holds the write transaction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from oeskit.domain import allocation_flow as flow
from oeskit.domain import rules, signatures
from oeskit.domain.allocation_flow import AllocationRecord, Kind, Status, Step
from oeskit.domain.hosted_ports import HostedStore
from oeskit.domain.model import Partner
from oeskit.errors import RuleViolation

_UNSIGNED = ("payload", "signature")


def check_signature(partner: Partner, body: Mapping[str, Any]) -> None:
    """The payload is the JSON of every other field and a key of the partner signed it."""
    signed = signatures.signed_payload(partner, body)
    fields = {k: v for k, v in body.items() if k not in _UNSIGNED}
    differ = sorted(k for k in set(signed) | set(fields) if signed.get(k) != fields.get(k))
    if differ:
        raise RuleViolation(
            rules.ALC_PAYLOAD,
            "payload does not match the request: these fields differ from the body: "
            + ", ".join(differ),
        )
    signatures.verify(partner, body)


def apply(
    store: HostedStore, partner: Partner, kind: Kind, body: Mapping[str, Any], now: str
) -> AllocationRecord:
    """Record the partner's `cleared` or `released` on the record the body names."""
    wanted = Status(body["status"])
    reason = body.get("rejectReason")
    if (wanted is Status.RELEASED) != bool(reason):
        raise RuleViolation(
            rules.ALC_REASON,
            "a release needs a non-empty rejectReason"
            if wanted is Status.RELEASED
            else "a clear takes no rejectReason",
        )
    noun = kind.value
    record = store.allocation(str(body[f"{noun}Id"]))
    if record is None or record.partner_id != partner.id or record.kind is not kind:
        raise RuleViolation(rules.ALC_UNKNOWN, f"no {noun} {body[f'{noun}Id']} of this partner")
    _same_record(store, record, body)
    if record.status is not Status.RESERVED:
        if record.status is wanted:
            return record  # the same update again: as it is
        raise RuleViolation(
            rules.ALC_STATE, f"{noun} {record.id} is {record.status}; it cannot be {wanted}"
        )
    if record.step is not Step.AWAIT:
        raise RuleViolation(
            rules.ALC_STATE,
            f"{noun} {record.id} is not awaiting the partner's update: the network clears it "
            "itself (the partner does not have async allocations)",
        )
    done, delta = flow.finish(record, wanted, reason, now)
    store.save_allocation(done)
    if delta:
        store.move_balance(done.connection_id, done.currency, available=delta, held=0)
    return done


def _same_record(store: HostedStore, record: AllocationRecord, body: Mapping[str, Any]) -> None:
    account, user = store.partners_ids(record.connection_id)
    noun = record.kind.value
    expected = {
        "amount.currency": record.partner_currency,
        "amount.quantity": str(record.quantity),
        "clientId": record.client_id,
        "connectionId": record.connection_id,
        "partnersConnectionId": account,
        "partnersClientId": user,
        f"partners{noun.capitalize()}Id": record.partner_external_id,
    }
    sent = {
        "amount.currency": body["amount"]["currency"],
        "amount.quantity": body["amount"]["quantity"],
        **{k: body.get(k) for k in list(expected)[2:]},
    }
    differ = [k for k, want in expected.items() if want is not None and sent[k] != want]
    if differ:
        raise RuleViolation(
            rules.ALC_MISMATCH, f"the update differs from {noun} {record.id}: {', '.join(differ)}"
        )
