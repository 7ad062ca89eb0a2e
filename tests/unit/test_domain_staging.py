"""Staging rules against the Store port (no HTTP): idempotency, the liability check, and the
effects of a staging (settlement, holds, jobs, outbox, closed disputes pulled in)."""

from __future__ import annotations

import pytest

from oeskit.clock import format_instant
from oeskit.domain import rules
from oeskit.domain.model import Balance
from oeskit.domain.records import (
    EventType,
    JobKind,
    JobStatus,
    SettlementStatus,
    TransferStatus,
)
from oeskit.errors import RuleViolation
from tests.unit.domain_support import (
    ALPHA,
    ALPHA_BTC,
    BETA,
    BETA_BTC,
    CLOSED_DISPUTE,
    CLOSURE,
    EXCHANGE,
    NOW,
    T1,
    T2,
    body,
    demo_store,
    stage,
)

# Every test runs on both stores.
pytestmark = pytest.mark.usefixtures("domain_stores")


def test_stage_creates_a_pending_settlement_with_its_windows() -> None:
    """A fresh staging stores a pending settlement whose windows follow the partner's minutes,
    and answers it without a re-read."""
    store = demo_store()
    staged = stage(store, body(notes="daily"))
    settlement = store.settlement(staged.settlement_id)
    assert settlement is not None and staged.created == settlement and not staged.replay
    assert settlement.status is SettlementStatus.PENDING
    assert (settlement.partner_id, settlement.external_id, settlement.notes) == (
        EXCHANGE,
        "ext-1",
        "daily",
    )
    assert (settlement.initiated_by, settlement.cutoff_at) == (
        "user-exchange-ops",
        "2026-11-20T23:59:59.000Z",
    )
    assert settlement.created_at == format_instant(NOW)
    assert settlement.dispute_window_ends_at == format_instant(T1)
    assert settlement.execute_at == format_instant(T2)
    assert settlement.window_closed_at is None and not settlement.disputed


def test_stage_writes_one_pending_transfer_per_amount() -> None:
    """Each leaf of settlementAmounts becomes a pending transfer in BitGo currency."""
    store = demo_store()
    staged = stage(store, body())
    transfers = store.settlement_transfers(staged.settlement_id)
    assert [(t.destination_connection_id, t.currency, t.quantity) for t in transfers] == [
        (ALPHA, "ofcbtc", "-1000"),
        (ALPHA, "ofceth", "2000"),
        (BETA, "ofcusdc", "-5"),
    ]
    assert {t.status for t in transfers} == {TransferStatus.PENDING}
    assert all(t.tx_ids == () and t.source_connection_id is None for t in transfers)


def test_identical_replay_answers_the_stored_settlement() -> None:
    """The same externalId with the same properties is a replay: same id, nothing new."""
    store = demo_store()
    first = stage(store, body())
    again = stage(store, body(nonce="another-nonce", signature="another"))
    assert (again.settlement_id, again.replay, again.created) == (first.settlement_id, True, None)
    assert [s.id for s in store.list_settlements(EXCHANGE)] == [first.settlement_id]


def test_replay_with_other_properties_is_an_idempotency_conflict() -> None:
    """The same externalId with other amounts is OES-IDEM-002 naming the stored settlement."""
    store = demo_store()
    first = stage(store, body())
    with pytest.raises(RuleViolation) as caught:
        stage(store, body({ALPHA: {"BTC": "-999"}}))
    assert caught.value.rule == rules.IDEM_CONFLICT
    assert caught.value.extra == {"settlementId": first.settlement_id}
    assert "ext-1" in caught.value.message


def test_liability_shortfall_names_connection_currency_required_and_available() -> None:
    """A connection owing more than its allocation is OES-BAL-001 with the four figures, and
    the staging writes nothing."""
    store = demo_store()
    with pytest.raises(RuleViolation) as caught:
        stage(store, body({ALPHA: {"BTC": str(-(ALPHA_BTC + 1))}}))
    assert caught.value.rule == rules.BAL_LIABILITY
    assert caught.value.extra == {
        "connectionId": ALPHA,
        "currency": "ofcbtc",
        "required": str(ALPHA_BTC + 1),
        "available": str(ALPHA_BTC),
    }
    assert store.settlement_by_external_id(EXCHANGE, "ext-1") is None
    assert store.balances([(ALPHA, "ofcbtc")]) == {(ALPHA, "ofcbtc"): Balance(ALPHA_BTC, 0)}


def test_liabilities_move_from_available_to_held() -> None:
    """What each connection owes is held: available goes down, held up, and the settlement
    records the hold; what a connection receives is not held."""
    store = demo_store()
    staged = stage(store, body())
    assert store.settlement_holds(staged.settlement_id) == {
        (ALPHA, "ofcbtc"): 1000,
        (BETA, "ofcusdc"): 5,
    }
    balances = store.balances([(ALPHA, "ofcbtc"), (ALPHA, "ofceth")])
    assert balances[(ALPHA, "ofcbtc")] == Balance(ALPHA_BTC - 1000, 1000)
    assert balances[(ALPHA, "ofceth")].held == 0


def test_stage_queues_the_two_finalize_jobs() -> None:
    """The dispute window closes at T1 and the settlement executes at T2, as queued jobs."""
    store = demo_store()
    staged = stage(store, body())
    jobs = store.jobs_for(staged.settlement_id)
    assert [(j.kind, j.due_at, j.status, j.attempts) for j in jobs] == [
        (JobKind.CLOSE_DISPUTE_WINDOW, format_instant(T1), JobStatus.QUEUED, 0),
        (JobKind.EXECUTE, format_instant(T2), JobStatus.QUEUED, 0),
    ]


def test_stage_notifies_each_connection_once() -> None:
    """One settlement.created event per connection involved, with its client and externalId."""
    store = demo_store()
    staged = stage(store, body())
    events = store.outbox(settlement_id=staged.settlement_id)
    assert [(e.type, e.connection_id, e.client_id, e.data) for e in events] == [
        (EventType.CREATED, ALPHA, "client-alpha", {"externalId": "ext-1"}),
        (EventType.CREATED, BETA, "client-beta", {"externalId": "ext-1"}),
    ]
    assert {e.at for e in events} == {format_instant(NOW)}


def test_stage_pulls_in_an_approved_closed_dispute() -> None:
    """The partner's next settlement carries an approved closure: the dispute is assigned to
    it, the closure's transfer joins it as pending, and its liability is held too."""
    store = demo_store(history=True)
    staged = stage(store, body({ALPHA: {"BTC": "-1000"}}))
    assert staged.created is None  # a dispute joined: the answer re-reads the settlement
    dispute = store.dispute(CLOSED_DISPUTE)
    assert dispute is not None and dispute.settled_in_settlement_id == staged.settlement_id
    carried = [t for t in store.settlement_transfers(staged.settlement_id) if t.dispute_closure_id]
    assert [(t.destination_connection_id, t.quantity, t.status) for t in carried] == [
        (BETA, "-35000", TransferStatus.PENDING)
    ]
    assert carried[0].dispute_closure_id == CLOSURE
    assert store.settlement_holds(staged.settlement_id)[(BETA, "ofcbtc")] == 35000
    assert store.balances([(BETA, "ofcbtc")])[(BETA, "ofcbtc")] == Balance(BETA_BTC - 35000, 35000)
    assert [v.dispute.id for v in store.settling_disputes(staged.settlement_id)] == [CLOSED_DISPUTE]
