"""Invariants of a sandbox database, checked after the fact (crash tests, soak, `oeskit doctor`).

One function per invariant, over the facts `store/inspection.py` reads (no SQL here): they read,
never write, and return violations as data. A violation names the invariant it breaks, so a
test can assert which one fired.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from oeskit.domain import amounts
from oeskit.domain.model import Instruction
from oeskit.domain.records import OPEN_SETTLEMENT_STATUSES, JobKind, JobStatus, TransferStatus
from oeskit.store.connection import Connection
from oeskit.store.inspection import Inspection

JOB_KINDS = tuple(kind.value for kind in JobKind)
Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Violation:
    invariant: str
    detail: str

    def __str__(self) -> str:
        return f"{self.invariant}: {self.detail}"


@dataclass(frozen=True, slots=True)
class Summary:
    settlements: int
    transfers: int
    violations: tuple[Violation, ...]

    @property
    def ok(self) -> bool:
        return not self.violations


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def _leaf_count(tree: object) -> int:
    """How many amounts a settlementAmounts object holds (each becomes one transfer)."""
    if isinstance(tree, dict):
        return sum(_leaf_count(v) for v in tree.values())
    return 1


def settlement_has_transfers_or_none_expected(db: Inspection) -> Iterator[Violation]:
    """Each staged settlement has one own transfer per amount of its signed payload."""
    own = db.own_transfer_counts()
    for settlement_id, payload in db.settlement_payloads():
        if payload is None:
            continue  # loaded from a world: no signed request says what to expect
        try:
            expected = _leaf_count(json.loads(payload).get("settlementAmounts", {}))
        except (ValueError, AttributeError):
            yield Violation(
                "settlement_has_transfers_or_none_expected",
                f"settlement {settlement_id} has an unreadable payload",
            )
            continue
        found = own.get(settlement_id, 0)
        if found != expected:
            yield Violation(
                "settlement_has_transfers_or_none_expected",
                f"settlement {settlement_id} has {found} transfers, its payload {expected}",
            )


def transfer_has_settlement(db: Inspection) -> Iterator[Violation]:
    """Every transfer belongs to an existing settlement, except unassigned closure transfers."""
    for t in db.orphan_transfers():
        if (
            t.settlement_id is None
            and t.dispute_closure_id is not None
            and t.status == TransferStatus.PENDING_SETTLEMENT_ASSIGNMENT
        ):
            continue
        yield Violation(
            "transfer_has_settlement",
            f"transfer {t.id} points at missing settlement {t.settlement_id}",
        )


def _holds(db: Inspection) -> dict[str, dict[Key, int]]:
    out: dict[str, dict[Key, int]] = {}
    for h in db.holds():
        out.setdefault(h.settlement_id, {})[(h.connection_id, h.currency)] = _int(h.amount) or 0
    return out


def holds_match_balances(db: Inspection) -> Iterator[Violation]:
    """For every (connection, currency), balances.held is the sum of the holds on it."""
    totals: dict[Key, int] = {}
    for per_settlement in _holds(db).values():
        for key, amount in per_settlement.items():
            totals[key] = totals.get(key, 0) + amount
    held = {(b.owner_id, b.currency): _int(b.held) for b in db.connection_balances()}
    for key in sorted(set(totals) | set(held)):
        if held.get(key, 0) != totals.get(key, 0):
            yield Violation(
                "holds_match_balances",
                f"{key[0]} {key[1]}: balances.held {held.get(key, 0)}, "
                f"sum of holds {totals.get(key, 0)}",
            )


def holds_only_for_pending(db: Inspection) -> Iterator[Violation]:
    """Holds exist only for open (pending, or failed and retriable) settlements."""
    status = db.settlement_statuses()
    for settlement_id in sorted(_holds(db)):
        if status.get(settlement_id) not in OPEN_SETTLEMENT_STATUSES:
            yield Violation(
                "holds_only_for_pending",
                f"holds kept for settlement {settlement_id} "
                f"({status.get(settlement_id, 'missing')})",
            )


def holds_match_liabilities(db: Inspection) -> Iterator[Violation]:
    """An open settlement holds exactly the net liabilities of its not-yet-executed transfers."""
    holds = _holds(db)
    items: dict[str, list[Instruction]] = {}
    for t in db.open_transfers():
        items.setdefault(t.settlement_id, []).append(
            Instruction(
                t.source_connection_id,
                t.destination_connection_id,
                t.currency,
                _int(t.quantity) or 0,
                t.dispute_closure_id,
                t.id,
            )
        )
    for settlement_id in db.open_settlement_ids():
        wanted = amounts.liabilities(items.get(settlement_id, []))
        if holds.get(settlement_id, {}) != wanted:
            yield Violation(
                "holds_match_liabilities",
                f"settlement {settlement_id} holds {holds.get(settlement_id, {})}, "
                f"its transfers owe {wanted}",
            )


def pending_has_jobs(db: Inspection) -> Iterator[Violation]:
    """A pending settlement has its two jobs, and its execute job is still queued."""
    jobs: dict[str, list[tuple[str, str]]] = {}
    for j in db.jobs():
        jobs.setdefault(j.settlement_id, []).append((j.kind, j.status))
    for settlement_id in db.signed_pending_settlements():
        mine = jobs.get(settlement_id, [])
        kinds = sorted(kind for kind, _ in mine)
        if kinds != sorted(JOB_KINDS):
            yield Violation("pending_has_jobs", f"settlement {settlement_id} has jobs {kinds}")
        elif (JobKind.EXECUTE.value, JobStatus.QUEUED.value) not in mine:
            yield Violation(
                "pending_has_jobs",
                f"settlement {settlement_id} is pending but its execute job is done",
            )


def jobs_have_settlement(db: Inspection) -> Iterator[Violation]:
    """Every job finalizes an existing settlement."""
    for job_id, settlement_id in db.orphan_jobs():
        yield Violation(
            "jobs_have_settlement", f"job {job_id} points at missing settlement {settlement_id}"
        )


def completed_has_finalized_at(db: Inspection) -> Iterator[Violation]:
    """A completed settlement says when it was finalized and has no transfer left pending."""
    for settlement_id in db.completed_without_finalized_at():
        yield Violation(
            "completed_has_finalized_at", f"settlement {settlement_id} has no finalizedAt"
        )
    for settlement_id in db.completed_with_open_transfers():
        yield Violation(
            "completed_has_finalized_at",
            f"settlement {settlement_id} is completed with transfers still open",
        )


def failed_has_reason(db: Inspection) -> Iterator[Violation]:
    """A failed settlement says why."""
    for settlement_id in db.failed_without_reason():
        yield Violation("failed_has_reason", f"settlement {settlement_id} failed without a reason")


def no_negative_available(db: Inspection) -> Iterator[Violation]:
    """No balance (connection available or held, partner available) is negative or non-integer."""
    for b in db.connection_balances():
        for column, text in (("available", b.available), ("held", b.held)):
            value = _int(text)
            if value is None or value < 0:
                yield Violation(
                    "no_negative_available", f"{b.owner_id} {b.currency} {column} = {text}"
                )
    for b in db.partner_balances():
        value = _int(b.available)
        if value is None or value < 0:
            yield Violation(
                "no_negative_available", f"partner {b.owner_id} {b.currency} = {b.available}"
            )


def disputes_assigned_to_existing_settlement(db: Inspection) -> Iterator[Violation]:
    """A dispute is on an existing settlement and, once assigned, settled in an existing one."""
    for d in db.dispute_links():
        if not d.disputed_exists:
            yield Violation(
                "disputes_assigned_to_existing_settlement",
                f"dispute {d.id} is on missing settlement {d.disputed_settlement_id}",
            )
        if d.settled_in_settlement_id is not None and not d.settled_in_exists:
            yield Violation(
                "disputes_assigned_to_existing_settlement",
                f"dispute {d.id} is settled in missing settlement {d.settled_in_settlement_id}",
            )


Check = Callable[[Inspection], Iterator[Violation]]

CHECKS: tuple[Check, ...] = (
    settlement_has_transfers_or_none_expected,
    transfer_has_settlement,
    holds_match_balances,
    holds_only_for_pending,
    holds_match_liabilities,
    pending_has_jobs,
    jobs_have_settlement,
    completed_has_finalized_at,
    failed_has_reason,
    no_negative_available,
    disputes_assigned_to_existing_settlement,
)
INVARIANTS = tuple(check.__name__ for check in CHECKS)


def check(conn: sqlite3.Connection) -> list[Violation]:
    """Every violation of every invariant, in the order of CHECKS."""
    db = Inspection(conn)
    return [violation for run in CHECKS for violation in run(db)]


def examine(conn: sqlite3.Connection | Connection) -> Summary:
    """Check inside one read transaction, so a live server's writes cannot tear the picture."""
    db = Inspection(conn)
    with db.snapshot():
        violations = [violation for run in CHECKS for violation in run(db)]
        settlements, transfers = db.counts()
    return Summary(settlements, transfers, tuple(violations))
