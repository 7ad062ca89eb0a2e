"""After staging (domain.md §8.9): close the dispute window, then execute or fail.

T1 = createdAt + clientDisputeWindowMinutes: transfers of disputed connections are withheld and
their holds released. T2 = T1 + topUpWindowMinutes: the rest executes if the partner's account
covers its outflow, otherwise the settlement fails with a reason and a replay retries it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from oeskit.clock import format_instant
from oeskit.domain import amounts
from oeskit.domain.model import Instruction
from oeskit.domain.ports import Row, Store

NewId = Callable[[], str]


def _instruction(row: Row) -> Instruction:
    return Instruction(
        row["source_connection_id"],
        row["destination_connection_id"],
        row["currency"],
        int(row["quantity"]),
        row["dispute_closure_id"],
        row["id"],
    )


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
            if job["kind"] == "close_dispute_window":
                close_dispute_window(store, str(job["settlement_id"]), now)
            else:
                execute(store, str(job["settlement_id"]), now, new_id)
            store.finish_job(str(job["id"]))
        ran += 1
    return ran


def close_dispute_window(store: Store, settlement_id: str, now: datetime) -> None:
    settlement = store.settlement(settlement_id)
    if settlement is None or settlement["window_closed_at"] or settlement["status"] != "pending":
        return
    disputed = {d["connection_id"] for d in store.disputes_on(settlement_id) if not d["retracted"]}
    transfers = store.settlement_transfers(settlement_id)
    withheld = [
        t["id"]
        for t in transfers
        if t["status"] == "pending"
        and t["dispute_closure_id"] is None
        and (t["source_connection_id"] in disputed or t["destination_connection_id"] in disputed)
    ]
    if withheld:
        store.update_transfers(withheld, {"status": "disputed", "updated_at": format_instant(now)})
    remaining = [
        _instruction(t)
        for t in transfers
        if t["status"] == "pending" and t["id"] not in set(withheld)
    ]
    _rebalance_holds(store, settlement_id, amounts.liabilities(remaining))
    store.update_settlement(
        settlement_id,
        {
            "disputed": 1 if disputed else 0,
            "window_closed_at": format_instant(now),
            "updated_at": format_instant(now),
        },
    )
    store.add_outbox(
        [
            {
                "type": "settlement.finalize",
                "settlement_id": settlement_id,
                "at": format_instant(now),
                "data": {
                    "externalId": settlement["external_id"],
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
            }
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
    if settlement is None or settlement["status"] == "completed":
        return False
    if not settlement["window_closed_at"]:
        close_dispute_window(store, settlement_id, now)
    rows = [
        t for t in store.settlement_transfers(settlement_id) if t["status"] in ("pending", "failed")
    ]
    items = [_instruction(t) for t in rows]
    partner_id = str(settlement["partner_id"])
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
    ids = [str(t["id"]) for t in rows]
    if short:
        reason = "insufficient partner balance: " + ", ".join(short)
        store.update_transfers(ids, {"status": "failed", "updated_at": stamp})
        store.update_settlement(
            settlement_id, {"status": "failed", "reason": reason, "updated_at": stamp}
        )
        store.add_outbox(
            [
                {
                    "type": "settlement.failed",
                    "settlement_id": settlement_id,
                    "at": stamp,
                    "data": {"reason": reason},
                }
            ]
        )
        return False
    for currency, delta in outflow.items():
        store.move_partner_balance(partner_id, currency, -delta)
    holds = store.settlement_holds(settlement_id)
    for (connection_id, currency), flow in amounts.net_flows(items).items():
        hold = holds.get((connection_id, currency), 0)
        store.move_balance(connection_id, currency, available=flow + hold, held=-hold)
    store.set_holds(settlement_id, {})
    store.update_transfers(ids, {"status": "completed", "updated_at": stamp})
    for transfer_id in ids:
        store.set_transfer_tx(transfer_id, new_id())
    store.update_settlement(
        settlement_id,
        {"status": "completed", "reason": None, "finalized_at": stamp, "updated_at": stamp},
    )
    store.add_outbox(
        [
            {
                "type": "settlement.completed",
                "settlement_id": settlement_id,
                "at": stamp,
                "data": {"transfers": len(ids)},
            }
        ]
    )
    return True
