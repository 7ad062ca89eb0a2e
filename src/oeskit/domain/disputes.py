"""Client disputes around a settlement: raise, retract, close (domain.md §8.7).

Public partner routes only read disputes; these actions come from the sandbox control plane,
standing in for the client routes and BitGo's admins.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from datetime import datetime

from oeskit.clock import format_instant
from oeskit.domain import amounts
from oeskit.domain.ports import Store
from oeskit.domain.records import (
    ClosedBy,
    Closure,
    ClosureStatus,
    Dispute,
    Settlement,
    SettlementStatus,
)
from oeskit.domain.sandbox_rules import SBX_INVALID, SBX_NOT_FOUND, SBX_STATE
from oeskit.errors import RuleViolation

NewId = Callable[[], str]
_SIGNED_INT = re.compile(r"-?[1-9][0-9]*")
CLOSED_BY = tuple(c.value for c in ClosedBy)  # plain strings: the message quotes them
CLOSURE_STATUSES = tuple(s.value for s in ClosureStatus)


def _open_window(settlement: Settlement, now: datetime) -> None:
    if (
        settlement.status != SettlementStatus.PENDING
        or settlement.window_closed_at
        or format_instant(now) >= str(settlement.dispute_window_ends_at)
    ):
        raise RuleViolation(
            SBX_STATE,
            f"the dispute window of settlement {settlement.id} has closed "
            f"(it ended at {settlement.dispute_window_ends_at})",
        )


def _settlement(store: Store, settlement_id: str) -> Settlement:
    settlement = store.settlement(settlement_id)
    if settlement is None:
        raise RuleViolation(SBX_NOT_FOUND, f"settlement {settlement_id} does not exist")
    return settlement


def _dispute(store: Store, dispute_id: str) -> Dispute:
    dispute = store.dispute(dispute_id)
    if dispute is None:
        raise RuleViolation(SBX_NOT_FOUND, f"dispute {dispute_id} does not exist")
    return dispute


def raise_dispute(
    store: Store,
    settlement_id: str,
    connection_id: str,
    now: datetime,
    new_id: NewId,
    *,
    user_id: str = "client-user",
    reason: str | None = None,
    expected: Mapping[str, str] | None = None,
) -> str:
    with store.immediate():
        settlement = _settlement(store, settlement_id)
        _open_window(settlement, now)
        involved = {
            side
            for t in store.settlement_transfers(settlement_id)
            if not t.dispute_closure_id
            for side in (t.source_connection_id, t.destination_connection_id)
        }
        if connection_id not in involved:
            raise RuleViolation(
                SBX_NOT_FOUND,
                f"connection {connection_id} has no transfer in settlement {settlement_id}",
            )
        for other in store.disputes_on(settlement_id):
            if other.connection_id == connection_id and not other.retracted:
                raise RuleViolation(
                    SBX_STATE,
                    f"connection {connection_id} already has an open dispute ({other.id}) on "
                    "this settlement",
                )
        dispute_id = new_id()
        stamp = format_instant(now)
        store.insert_dispute(
            Dispute(
                id=dispute_id,
                disputed_settlement_id=settlement_id,
                connection_id=connection_id,
                user_id=user_id,
                reason=reason,
                expected_transfers=dict(expected or {}),
                created_at=stamp,
                updated_at=stamp,
            )
        )
        return dispute_id


def retract(
    store: Store,
    dispute_id: str,
    now: datetime,
    *,
    retracted: bool = True,
    reason: str | None = None,
    user_id: str = "client-user",
) -> None:
    with store.immediate():
        dispute = _dispute(store, dispute_id)
        settlement = _settlement(store, dispute.disputed_settlement_id)
        _open_window(settlement, now)
        if dispute.dispute_closure_id:
            raise RuleViolation(SBX_STATE, f"dispute {dispute_id} is closed")
        if not retracted:
            for other in store.disputes_on(settlement.id):
                if (
                    other.id != dispute_id
                    and other.connection_id == dispute.connection_id
                    and not other.retracted
                ):
                    raise RuleViolation(SBX_STATE, "this connection already has an open dispute")
        stamp = format_instant(now)
        store.save_dispute(
            dataclasses.replace(
                dispute,
                retracted=retracted,
                retracted_reason=reason if retracted else None,
                retracted_by=user_id if retracted else None,
                retracted_at=stamp if retracted else None,
                updated_at=stamp,
            )
        )


def close(
    store: Store,
    dispute_id: str,
    now: datetime,
    new_id: NewId,
    *,
    closed_by: str,
    status: str,
    notes: str,
    adjusted: Mapping[str, str] | None = None,
    user_id: str = "bitgo-admin",
) -> str:
    if closed_by not in CLOSED_BY or status not in CLOSURE_STATUSES:
        raise RuleViolation(
            SBX_INVALID, f"closedBy must be one of {CLOSED_BY} and status one of {CLOSURE_STATUSES}"
        )
    with store.immediate():
        dispute = _dispute(store, dispute_id)
        if dispute.dispute_closure_id:
            raise RuleViolation(SBX_STATE, f"dispute {dispute_id} is already closed")
        if dispute.retracted:
            raise RuleViolation(SBX_STATE, f"dispute {dispute_id} is retracted")
        settlement_id = dispute.disputed_settlement_id
        connection_id = dispute.connection_id
        if not adjusted:
            # A client closing its own dispute accepts the original instructions (domain.md §8.7).
            own = [
                t.instruction()
                for t in store.settlement_transfers(settlement_id)
                if not t.dispute_closure_id
            ]
            adjusted = {
                cur: str(flow)
                for (conn, cur), flow in amounts.net_flows(own).items()
                if conn == connection_id and flow
            }
        for currency, text in adjusted.items():
            if not isinstance(text, str) or not _SIGNED_INT.fullmatch(text):
                raise RuleViolation(
                    SBX_INVALID,
                    f"adjustedTransfers[{currency!r}] must be a non-zero base-unit integer string",
                )
        closure_id = new_id()
        stamp = format_instant(now)
        store.insert_closure(
            Closure(
                id=closure_id,
                dispute_id=dispute_id,
                closed_by=ClosedBy(closed_by),
                user_id=user_id,
                notes=notes,
                status=ClosureStatus(status),
                adjusted_transfers=dict(adjusted),
                created_at=stamp,
            )
        )
        settlement = _settlement(store, settlement_id)
        store.insert_closure_transfers(
            closure_id,
            settlement.partner_id,
            connection_id,
            [(currency, int(text), new_id()) for currency, text in adjusted.items()],
            now,
        )
        store.save_dispute(
            dataclasses.replace(dispute, dispute_closure_id=closure_id, updated_at=stamp)
        )
        return closure_id
