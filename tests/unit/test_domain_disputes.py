"""Client disputes against the Store port (no HTTP): raise, retract and close, and the states
that refuse them."""

from __future__ import annotations

from datetime import datetime

import pytest

from oeskit.clock import format_instant
from oeskit.domain import disputes
from oeskit.domain.records import ClosedBy, ClosureStatus, TransferStatus
from oeskit.domain.sandbox_rules import SBX_INVALID, SBX_NOT_FOUND, SBX_STATE
from oeskit.errors import RuleViolation
from oeskit.store.sqlite import SqliteStore
from tests.unit.domain_support import (
    ALPHA,
    BETA,
    GAMMA,
    NOW,
    T1,
    body,
    demo_store,
    id_source,
    stage,
)

# Every test runs on both stores.
pytestmark = pytest.mark.usefixtures("domain_stores")


def _staged(store: SqliteStore) -> str:
    return stage(store, body()).settlement_id


def _raise(store: SqliteStore, settlement_id: str, connection_id: str = BETA) -> str:
    ids = (f"dispute-{n}" for n in range(100))
    return disputes.raise_dispute(
        store,
        settlement_id,
        connection_id,
        NOW,
        lambda: next(ids),
        reason="wrong amount",
        expected={"ofcusdc": "-4"},
    )


def test_raise_records_an_open_dispute() -> None:
    """A client of the settlement disputes it inside the window; the record says who and why."""
    store = demo_store()
    settlement_id = _staged(store)
    dispute = store.dispute(_raise(store, settlement_id))
    assert dispute is not None and dispute.open
    assert (dispute.disputed_settlement_id, dispute.connection_id, dispute.reason) == (
        settlement_id,
        BETA,
        "wrong amount",
    )
    assert dict(dispute.expected_transfers) == {"ofcusdc": "-4"}
    assert dispute.created_at == format_instant(NOW) and dispute.settled_in_settlement_id is None


@pytest.mark.parametrize(
    ("connection_id", "at", "rule"),
    [
        pytest.param(GAMMA, NOW, SBX_NOT_FOUND, id="connection-not-in-settlement"),
        pytest.param(BETA, T1, SBX_STATE, id="window-closed"),
    ],
)
def test_raise_is_refused_outside_its_rules(connection_id: str, at: datetime, rule: str) -> None:
    """Only a connection of the settlement may dispute, and only before the window closes."""
    store = demo_store()
    settlement_id = _staged(store)
    ids = id_source()
    with pytest.raises(RuleViolation) as caught:
        disputes.raise_dispute(store, settlement_id, connection_id, at, lambda: next(ids))
    assert caught.value.rule == rule
    assert store.disputes_on(settlement_id) == []


def test_a_second_open_dispute_of_one_connection_is_refused() -> None:
    """One open dispute per connection and settlement: the second names the first."""
    store = demo_store()
    settlement_id = _staged(store)
    first = _raise(store, settlement_id)
    with pytest.raises(RuleViolation) as caught:
        _raise(store, settlement_id)
    assert caught.value.rule == SBX_STATE and first in caught.value.message


def test_retract_and_unretract() -> None:
    """Retracting records who and when; withdrawing the retraction clears those fields."""
    store = demo_store()
    dispute_id = _raise(store, _staged(store))
    disputes.retract(store, dispute_id, NOW, reason="sorted out", user_id="user-beta")
    retracted = store.dispute(dispute_id)
    assert retracted is not None and not retracted.open
    assert (retracted.retracted_by, retracted.retracted_at, retracted.retracted_reason) == (
        "user-beta",
        format_instant(NOW),
        "sorted out",
    )
    disputes.retract(store, dispute_id, NOW, retracted=False)
    reopened = store.dispute(dispute_id)
    assert reopened is not None and reopened.open and reopened.retracted_by is None


def test_a_client_closing_its_own_dispute_accepts_the_original_amounts() -> None:
    """Without adjustedTransfers the closure carries the connection's original net flow, as a
    transfer waiting for the partner's next settlement."""
    store = demo_store()
    dispute_id = _raise(store, _staged(store))
    ids = (f"closure-{n}" for n in range(100))
    closure_id = disputes.close(
        store, dispute_id, NOW, lambda: next(ids), closed_by="client", status="approved", notes="ok"
    )
    dispute = store.dispute(dispute_id)
    assert dispute is not None and dispute.dispute_closure_id == closure_id
    view = store.dispute_view(dispute_id)
    assert view is not None and view.closure is not None
    closure = view.closure
    assert (closure.closed_by, closure.status, closure.notes) == (
        ClosedBy.CLIENT,
        ClosureStatus.APPROVED,
        "ok",
    )
    assert dict(closure.adjusted_transfers) == {"ofcusdc": "-5"}
    assert [
        (t.destination_connection_id, t.quantity, t.status, t.settlement_id)
        for t in view.closure_transfers
    ] == [(BETA, "-5", TransferStatus.PENDING_SETTLEMENT_ASSIGNMENT, None)]


@pytest.mark.parametrize(
    ("closed_by", "status", "adjusted"),
    [
        pytest.param("partner", "approved", None, id="unknown-closedBy"),
        pytest.param("admin", "done", None, id="unknown-status"),
        pytest.param("admin", "approved", {"ofcusdc": "1.5"}, id="not-base-units"),
    ],
)
def test_close_refuses_invalid_input(
    closed_by: str, status: str, adjusted: dict[str, str] | None
) -> None:
    """closedBy, status and adjusted amounts are checked; nothing is written on refusal."""
    store = demo_store()
    dispute_id = _raise(store, _staged(store))
    ids = id_source()
    with pytest.raises(RuleViolation) as caught:
        disputes.close(
            store,
            dispute_id,
            NOW,
            lambda: next(ids),
            closed_by=closed_by,
            status=status,
            notes="n",
            adjusted=adjusted,
        )
    assert caught.value.rule == SBX_INVALID
    dispute = store.dispute(dispute_id)
    assert dispute is not None and dispute.dispute_closure_id is None


def test_a_retracted_dispute_cannot_be_closed() -> None:
    """Closing needs an open dispute."""
    store = demo_store()
    dispute_id = _raise(store, _staged(store), ALPHA)
    disputes.retract(store, dispute_id, NOW)
    ids = id_source()
    with pytest.raises(RuleViolation) as caught:
        disputes.close(
            store,
            dispute_id,
            NOW,
            lambda: next(ids),
            closed_by="admin",
            status="approved",
            notes="",
        )
    assert caught.value.rule == SBX_STATE and "retracted" in caught.value.message
