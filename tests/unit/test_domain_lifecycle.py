"""The lifecycle against the Store port (no HTTP): the dispute window closes and withholds
disputed connections, then the settlement executes or fails with a reason, and a replay retries
a failed one."""

from __future__ import annotations

from datetime import datetime

import pytest

from oeskit.clock import format_instant
from oeskit.domain import disputes, funding, lifecycle
from oeskit.domain.model import Balance
from oeskit.domain.records import EventType, JobStatus, SettlementStatus, TransferStatus
from oeskit.store.sqlite import SqliteStore
from tests.unit.domain_support import (
    ALPHA,
    ALPHA_BTC,
    BETA,
    EXCHANGE,
    NOW,
    T1,
    T2,
    body,
    demo_store,
    id_source,
    stage,
)

EXCHANGE_ETH = 10_000 * 10**18  # the demo partner's own ofceth

# Every test runs on both stores.
pytestmark = pytest.mark.usefixtures("domain_stores")


def _run(store: SqliteStore, at: datetime) -> int:
    ids = id_source()
    return lifecycle.run_due(store, at, lambda: f"tx-{next(ids)}")


def test_window_close_withholds_the_disputed_connection() -> None:
    """At T1 a disputed connection's transfers become `disputed`, its holds are released, the
    settlement is marked disputed and a finalize event lists what goes ahead."""
    store = demo_store()
    staged = stage(store, body())
    ids = id_source()
    disputes.raise_dispute(store, staged.settlement_id, BETA, NOW, lambda: next(ids))
    assert _run(store, T1) == 1
    settlement = store.settlement(staged.settlement_id)
    assert settlement is not None
    assert (settlement.status, settlement.disputed) == (SettlementStatus.PENDING, True)
    assert settlement.window_closed_at == format_instant(T1)
    status = {
        t.destination_connection_id: t.status
        for t in store.settlement_transfers(staged.settlement_id)
    }
    assert status == {ALPHA: TransferStatus.PENDING, BETA: TransferStatus.DISPUTED}
    assert store.settlement_holds(staged.settlement_id) == {(ALPHA, "ofcbtc"): 1000}
    assert store.balances([(BETA, "ofcusdc")])[(BETA, "ofcusdc")].held == 0
    (event,) = store.outbox(event_type=EventType.FINALIZE)
    assert event.data["withheldConnectionIds"] == [BETA]
    assert [t["destinationConnectionId"] for t in event.data["finalTransfers"]] == [ALPHA, ALPHA]


def test_execution_completes_and_moves_the_money() -> None:
    """At T2 the pending transfers complete with a tx id each, holds become transfers, the
    partner pays what it owes and the settlement says when it was finalized."""
    store = demo_store()
    staged = stage(store, body({ALPHA: {"BTC": "-1000", "ETH": "2000"}}))
    assert _run(store, T2) == 2
    settlement = store.settlement(staged.settlement_id)
    assert settlement is not None
    assert (settlement.status, settlement.finalized_at, settlement.reason) == (
        SettlementStatus.COMPLETED,
        format_instant(T2),
        None,
    )
    transfers = store.settlement_transfers(staged.settlement_id)
    assert {t.status for t in transfers} == {TransferStatus.COMPLETED}
    assert all(len(t.tx_ids) == 1 for t in transfers)
    assert store.settlement_holds(staged.settlement_id) == {}
    assert store.balances([(ALPHA, "ofcbtc")])[(ALPHA, "ofcbtc")] == Balance(ALPHA_BTC - 1000, 0)
    assert store.partner_balance(EXCHANGE, "ofceth") == EXCHANGE_ETH - 2000
    assert {j.status for j in store.jobs_for(staged.settlement_id)} == {JobStatus.DONE}
    assert [e.type for e in store.outbox(settlement_id=staged.settlement_id)][-1] == (
        EventType.COMPLETED
    )


def test_execution_fails_with_a_reason_when_the_partner_is_short() -> None:
    """A partner that cannot cover its outflow fails the settlement with the figures; the
    transfers fail and the holds stay, so a later retry can still execute."""
    store = demo_store()
    funding.adjust(store, "ofceth", -EXCHANGE_ETH, partner_id=EXCHANGE)
    staged = stage(store, body({ALPHA: {"BTC": "-1000", "ETH": "2000"}}))
    _run(store, T2)
    settlement = store.settlement(staged.settlement_id)
    assert settlement is not None and settlement.status is SettlementStatus.FAILED
    assert settlement.reason == "insufficient partner balance: ofceth (required 2000, available 0)"
    assert settlement.window_closed_at == format_instant(T2)  # closed on the way
    transfers = store.settlement_transfers(staged.settlement_id)
    assert {t.status for t in transfers} == {TransferStatus.FAILED}
    assert store.settlement_holds(staged.settlement_id) == {(ALPHA, "ofcbtc"): 1000}
    failed = store.outbox(event_type=EventType.FAILED)
    assert [e.data for e in failed] == [{"reason": settlement.reason}]


def test_a_replay_retries_a_failed_settlement_once_funded() -> None:
    """After the partner tops up, replaying the staging request executes the failed settlement."""
    store = demo_store()
    funding.adjust(store, "ofceth", -EXCHANGE_ETH, partner_id=EXCHANGE)
    staged = stage(store, body({ALPHA: {"BTC": "-1000", "ETH": "2000"}}))
    _run(store, T2)
    funding.adjust(store, "ofceth", 2000, partner_id=EXCHANGE)
    again = stage(store, body({ALPHA: {"BTC": "-1000", "ETH": "2000"}}), now=T2)
    assert again.replay and again.settlement_id == staged.settlement_id
    settlement = store.settlement(staged.settlement_id)
    assert settlement is not None and settlement.status is SettlementStatus.COMPLETED
    assert settlement.reason is None
    assert store.partner_balance(EXCHANGE, "ofceth") == 0


def test_jobs_not_due_do_not_run() -> None:
    """Before T1 nothing is due: no job runs and the settlement stays as staged."""
    store = demo_store()
    staged = stage(store, body())
    assert _run(store, NOW) == 0
    settlement = store.settlement(staged.settlement_id)
    assert settlement is not None and settlement.window_closed_at is None
