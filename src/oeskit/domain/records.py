"""The records that cross the Store protocol: settlements, transfers, disputes, closures, jobs and
outbox events, with their statuses as enums. Values only: no I/O, no JSON shapes (presenters).

Statuses are `StrEnum`s so the TEXT stored in SQLite and shown by the contract stays the same
string. Instants are kept as the stored `toISOString()` text (`clock.format_instant`): filters
compare that text, and parsing it back on every read would cost for nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from oeskit.domain.model import Balance, Instruction


class SettlementStatus(StrEnum):
    PENDING = "pending"
    FAILED = "failed"  # not final: a replay of the staging request retries it
    COMPLETED = "completed"
    REJECTED = "rejected"  # in the contract's enum; this sandbox never rejects


# Settlements whose liabilities stay held (a failed one is retried by a replay).
OPEN_SETTLEMENT_STATUSES = frozenset({SettlementStatus.PENDING, SettlementStatus.FAILED})


class TransferStatus(StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"
    DISPUTED = "disputed"  # withheld when the dispute window closed
    PENDING_SETTLEMENT_ASSIGNMENT = "pending_settlement_assignment"  # a closure's, unassigned


# Transfers an execution still has to apply.
OPEN_TRANSFER_STATUSES = frozenset({TransferStatus.PENDING, TransferStatus.FAILED})


class JobKind(StrEnum):
    CLOSE_DISPUTE_WINDOW = "close_dispute_window"
    EXECUTE = "execute"


class JobStatus(StrEnum):
    QUEUED = "queued"
    DONE = "done"


class ClosedBy(StrEnum):
    CLIENT = "client"
    ADMIN = "admin"


class ClosureStatus(StrEnum):
    PENDING_REVIEW = "pending_review"
    APPROVED = "approved"  # only approved closures are carried by a later settlement
    REJECTED = "rejected"


class EventType(StrEnum):
    CREATED = "settlement.created"
    FINALIZE = "settlement.finalize"
    FAILED = "settlement.failed"
    COMPLETED = "settlement.completed"


@dataclass(frozen=True, slots=True)
class Settlement:
    """One settlement as stored; the windows are set at staging (`staging.windows`)."""

    id: str
    partner_id: str
    external_id: str
    status: SettlementStatus
    initiated_by: str
    notes: str | None
    cutoff_at: str | None
    created_at: str
    updated_at: str
    finalized_at: str | None = None
    reason: str | None = None
    disputed: bool = False
    nonce: str | None = None  # signed fields: None for settlements loaded from a world
    payload: str | None = None
    signature: str | None = None
    fingerprint: str | None = None  # what makes a replay "the same settlement"
    dispute_window_ends_at: str | None = None
    execute_at: str | None = None
    window_closed_at: str | None = None


# A NamedTuple: a 50,000-transfer settlement is read back as 50,000 of these (model.py).
class Transfer(NamedTuple):
    id: str
    settlement_id: str | None  # None while a closure's transfer awaits a settlement
    seq: int
    source_connection_id: str | None  # None: the partner's own Go Account
    destination_connection_id: str
    source_trading_account_id: str
    source_network_account_id: str | None
    destination_trading_account_id: str
    destination_network_account_id: str
    currency: str  # BitGo code
    quantity: str  # base units, as stored and shown
    status: TransferStatus
    tx_ids: tuple[str, ...]
    dispute_closure_id: str | None
    created_at: str
    updated_at: str

    def instruction(self) -> Instruction:
        return Instruction(
            self.source_connection_id,
            self.destination_connection_id,
            self.currency,
            int(self.quantity),
            self.dispute_closure_id,
            self.id,
        )


@dataclass(frozen=True, slots=True)
class Dispute:
    id: str
    disputed_settlement_id: str
    connection_id: str
    user_id: str
    reason: str | None
    expected_transfers: Mapping[str, str]
    created_at: str
    updated_at: str
    retracted: bool = False
    retracted_by: str | None = None
    retracted_at: str | None = None
    retracted_reason: str | None = None
    dispute_closure_id: str | None = None
    settled_in_settlement_id: str | None = None

    @property
    def open(self) -> bool:
        """Neither retracted nor closed."""
        return not self.retracted and self.dispute_closure_id is None


@dataclass(frozen=True, slots=True)
class Closure:
    id: str
    dispute_id: str
    closed_by: ClosedBy
    user_id: str
    notes: str
    status: ClosureStatus
    adjusted_transfers: Mapping[str, str]  # currency -> signed base units
    created_at: str
    reviewed_by: str | None = None
    review_notes: str | None = None


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    kind: JobKind
    settlement_id: str
    due_at: str
    status: JobStatus
    attempts: int
    worker: str | None = None
    done_at: str | None = None


# A NamedTuple: staging writes one settlement.created event per connection involved.
class OutboxEvent(NamedTuple):
    type: EventType
    at: str
    data: Mapping[str, object]
    settlement_id: str | None = None
    connection_id: str | None = None
    client_id: str | None = None
    id: int | None = None  # assigned by the store


# --- read-side views (the partner read routes and the control plane) -------------------------


@dataclass(frozen=True, slots=True)
class DisputeView:
    """A dispute with its closure (or None) and the closure's adjusted transfers."""

    dispute: Dispute
    closure: Closure | None = None
    closure_transfers: tuple[Transfer, ...] = ()


@dataclass(frozen=True, slots=True)
class ConnectionBalances:
    """One connection of the balances route: who owns it and its balance per BitGo currency."""

    id: str
    client_id: str
    partners_connection_id: str | None  # None until the partner initializes the connection
    balances: Mapping[str, Balance]
