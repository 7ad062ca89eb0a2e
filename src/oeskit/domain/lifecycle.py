"""After staging (domain.md §8.9): close the dispute window, then execute or fail.

T1 = createdAt + clientDisputeWindowMinutes: transfers of disputed connections are withheld and
their holds released. T2 = T1 + topUpWindowMinutes: the rest executes if the partner's account
covers its outflow, otherwise the settlement fails with a reason and a replay retries it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime

from oeskit.clock import format_instant
from oeskit.domain import amounts
from oeskit.domain.ports import Store
from oeskit.domain.records import (
    OPEN_TRANSFER_STATUSES,
    EventType,
    JobKind,
    OutboxEvent,
    SettlementStatus,
    TransferStatus,
)

NewId = Callable[[], str]


def run_due(store: Store, now: datetime, new_id: NewId, worker: str = "") -> int:
    """Run every job due at `now`, each in its own transaction; return how many ran.

    Claiming, running and finishing a job share one immediate transaction, so across worker
    processes each job runs exactly once and a crash mid-job leaves it queued, never half-done.
    """
    ran = 0
    while store.has_due_job(now):  # a plain read first: most ticks find nothing to lock for
        with store.immediate():
            job = store.claim_due_job(now, worker)
            if job is None:
                return ran
            if job.kind == JobKind.CLOSE_DISPUTE_WINDOW:
                close_dispute_window(store, job.settlement_id, now)
            else:
                execute(store, job.settlement_id, now, new_id)
            store.finish_job(job.id)
        ran += 1
    return ran


def close_dispute_window(store: Store, settlement_id: str, now: datetime) -> None:
    settlement = store.settlement(settlement_id)
    if (
        settlement is None
        or settlement.window_closed_at
        or settlement.status != SettlementStatus.PENDING
    ):
        return
    disputed = {d.connection_id for d in store.disputes_on(settlement_id) if not d.retracted}
    transfers = store.settlement_transfers(settlement_id)
    withheld = {
        t.id
        for t in transfers
        if t.status == TransferStatus.PENDING
        and t.dispute_closure_id is None
        and (t.source_connection_id in disputed or t.destination_connection_id in disputed)
    }
    stamp = format_instant(now)
    if withheld:
        store.set_transfer_status(
            [t.id for t in transfers if t.id in withheld], TransferStatus.DISPUTED, stamp
        )
    remaining = [
        t.instruction()
        for t in transfers
        if t.status == TransferStatus.PENDING and t.id not in withheld
    ]
    _rebalance_holds(store, settlement_id, amounts.liabilities(remaining))
    store.save_settlement(
        dataclasses.replace(
            settlement, disputed=bool(disputed), window_closed_at=stamp, updated_at=stamp
        )
    )
    store.add_outbox(
        [
            OutboxEvent(
                EventType.FINALIZE,
                stamp,
                {
                    "externalId": settlement.external_id,
                    "finalTransfers": [
                        {
                            "sourceConnectionId": i.source,
                            "destinationConnectionId": i.destination,
                            "currency": i.currency,
                            "quantity": str(i.quantity),
                        }
                        for i in remaining
                    ],
                    "withheldConnectionIds": sorted(disputed),
                },
                settlement_id,
            )
        ]
    )


def _rebalance_holds(store: Store, settlement_id: str, wanted: dict[tuple[str, str], int]) -> None:
    current = store.settlement_holds(settlement_id)
    for key in set(current) | set(wanted):
        delta = wanted.get(key, 0) - current.get(key, 0)
        if delta:
            store.move_balance(key[0], key[1], available=-delta, held=delta)
    store.set_holds(settlement_id, wanted)


def execute(store: Store, settlement_id: str, now: datetime, new_id: NewId) -> bool:
    """Apply the settlement's pending transfers at once, or mark it failed. True if completed."""
    settlement = store.settlement(settlement_id)
    if settlement is None or settlement.status == SettlementStatus.COMPLETED:
        return False
    if not settlement.window_closed_at:
        close_dispute_window(store, settlement_id, now)
        settlement = store.settlement(settlement_id)
        assert settlement is not None
    rows = [
        t for t in store.settlement_transfers(settlement_id) if t.status in OPEN_TRANSFER_STATUSES
    ]
    items = [t.instruction() for t in rows]
    partner_id = settlement.partner_id
    outflow: dict[str, int] = {}
    for item in items:
        if item.source is None:
            outflow[item.currency] = outflow.get(item.currency, 0) + item.quantity
    short = []
    for currency, required in sorted(outflow.items()):
        available = store.partner_balance(partner_id, currency)
        if required > available:
            short.append(f"{currency} (required {required}, available {available})")
    stamp = format_instant(now)
    ids = [t.id for t in rows]
    if short:
        reason = "insufficient partner balance: " + ", ".join(short)
        store.set_transfer_status(ids, TransferStatus.FAILED, stamp)
        store.save_settlement(
            dataclasses.replace(
                settlement, status=SettlementStatus.FAILED, reason=reason, updated_at=stamp
            )
        )
        store.add_outbox([OutboxEvent(EventType.FAILED, stamp, {"reason": reason}, settlement_id)])
        return False
    for currency, delta in outflow.items():
        store.move_partner_balance(partner_id, currency, -delta)
    holds = store.settlement_holds(settlement_id)
    for (connection_id, currency), flow in amounts.net_flows(items).items():
        hold = holds.get((connection_id, currency), 0)
        store.move_balance(connection_id, currency, available=flow + hold, held=-hold)
    store.set_holds(settlement_id, {})
    store.set_transfer_status(ids, TransferStatus.COMPLETED, stamp)
    for transfer_id in ids:
        store.set_transfer_tx(transfer_id, new_id())
    store.save_settlement(
        dataclasses.replace(
            settlement,
            status=SettlementStatus.COMPLETED,
            reason=None,
            finalized_at=stamp,
            updated_at=stamp,
        )
    )
    store.add_outbox(
        [OutboxEvent(EventType.COMPLETED, stamp, {"transfers": len(ids)}, settlement_id)]
    )
    return True
