"""Invariants of a sandbox database, checked after the fact (crash tests, soak, `oeskit doctor`).

Pure functions over an open sqlite3 connection: they read, never write, and return violations
as data. A violation names the invariant it breaks, so a test can assert which one fired.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from oeskit.domain import amounts
from oeskit.domain.model import Instruction

OPEN_STATUSES = ("pending", "failed")  # settlements whose liabilities stay held
JOB_KINDS = ("close_dispute_window", "execute")
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


def _rows(
    conn: sqlite3.Connection, sql: str, params: tuple[object, ...] = ()
) -> list[dict[str, Any]]:
    cursor = conn.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]


def _leaf_count(tree: object) -> int:
    """How many amounts a settlementAmounts object holds (each becomes one transfer)."""
    if isinstance(tree, dict):
        return sum(_leaf_count(v) for v in tree.values())
    return 1


def settlement_has_transfers_or_none_expected(conn: sqlite3.Connection) -> Iterator[Violation]:
    """Each staged settlement has one own transfer per amount of its signed payload."""
    own = {
        r["settlement_id"]: r["n"]
        for r in _rows(
            conn,
            "SELECT settlement_id, COUNT(*) AS n FROM transfers "
            "WHERE dispute_closure_id IS NULL GROUP BY settlement_id",
        )
    }
    for s in _rows(conn, "SELECT id, payload FROM settlements"):
        if s["payload"] is None:
            continue  # loaded from a world: no signed request says what to expect
        try:
            expected = _leaf_count(json.loads(s["payload"]).get("settlementAmounts", {}))
        except (ValueError, AttributeError):
            yield Violation(
                "settlement_has_transfers_or_none_expected",
                f"settlement {s['id']} has an unreadable payload",
            )
            continue
        found = own.get(s["id"], 0)
        if found != expected:
            yield Violation(
                "settlement_has_transfers_or_none_expected",
                f"settlement {s['id']} has {found} transfers, its payload {expected}",
            )


def transfer_has_settlement(conn: sqlite3.Connection) -> Iterator[Violation]:
    """Every transfer belongs to an existing settlement, except unassigned closure transfers."""
    for t in _rows(
        conn,
        "SELECT t.id, t.settlement_id, t.status, t.dispute_closure_id "
        "FROM transfers t LEFT JOIN settlements s ON s.id = t.settlement_id "
        "WHERE s.id IS NULL",
    ):
        if (
            t["settlement_id"] is None
            and t["dispute_closure_id"] is not None
            and t["status"] == "pending_settlement_assignment"
        ):
            continue
        yield Violation(
            "transfer_has_settlement",
            f"transfer {t['id']} points at missing settlement {t['settlement_id']}",
        )


def _holds(conn: sqlite3.Connection) -> dict[str, dict[Key, int]]:
    out: dict[str, dict[Key, int]] = {}
    for h in _rows(conn, "SELECT * FROM holds"):
        out.setdefault(h["settlement_id"], {})[(h["connection_id"], h["currency"])] = (
            _int(h["amount"]) or 0
        )
    return out


def holds_match_balances(conn: sqlite3.Connection) -> Iterator[Violation]:
    """For every (connection, currency), balances.held is the sum of the holds on it."""
    totals: dict[Key, int] = {}
    for per_settlement in _holds(conn).values():
        for key, amount in per_settlement.items():
            totals[key] = totals.get(key, 0) + amount
    held = {
        (b["connection_id"], b["currency"]): _int(b["held"])
        for b in _rows(conn, "SELECT connection_id, currency, held FROM balances")
    }
    for key in sorted(set(totals) | set(held)):
        if held.get(key, 0) != totals.get(key, 0):
            yield Violation(
                "holds_match_balances",
                f"{key[0]} {key[1]}: balances.held {held.get(key, 0)}, "
                f"sum of holds {totals.get(key, 0)}",
            )


def holds_only_for_pending(conn: sqlite3.Connection) -> Iterator[Violation]:
    """Holds exist only for open (pending, or failed and retriable) settlements."""
    status = {r["id"]: r["status"] for r in _rows(conn, "SELECT id, status FROM settlements")}
    for settlement_id in sorted(_holds(conn)):
        if status.get(settlement_id) not in OPEN_STATUSES:
            yield Violation(
                "holds_only_for_pending",
                f"holds kept for settlement {settlement_id} "
                f"({status.get(settlement_id, 'missing')})",
            )


def holds_match_liabilities(conn: sqlite3.Connection) -> Iterator[Violation]:
    """An open settlement holds exactly the net liabilities of its not-yet-executed transfers."""
    holds = _holds(conn)
    items: dict[str, list[Instruction]] = {}
    for t in _rows(
        conn,
        "SELECT t.* FROM transfers t JOIN settlements s ON s.id = t.settlement_id"
        " WHERE s.status IN ('pending', 'failed') "
        "AND t.status IN ('pending', 'failed')",
    ):
        items.setdefault(t["settlement_id"], []).append(
            Instruction(
                t["source_connection_id"],
                t["destination_connection_id"],
                t["currency"],
                _int(t["quantity"]) or 0,
                t["dispute_closure_id"],
                t["id"],
            )
        )
    for s in _rows(conn, "SELECT id FROM settlements WHERE status IN ('pending', 'failed')"):
        wanted = amounts.liabilities(items.get(s["id"], []))
        if holds.get(s["id"], {}) != wanted:
            yield Violation(
                "holds_match_liabilities",
                f"settlement {s['id']} holds {holds.get(s['id'], {})}, its transfers owe {wanted}",
            )


def pending_has_jobs(conn: sqlite3.Connection) -> Iterator[Violation]:
    """A pending settlement has its two jobs, and its execute job is still queued."""
    jobs: dict[str, list[dict[str, object]]] = {}
    for j in _rows(conn, "SELECT * FROM jobs"):
        jobs.setdefault(j["settlement_id"], []).append(j)
    for s in _rows(
        conn, "SELECT id FROM settlements WHERE status = 'pending' AND payload IS NOT NULL"
    ):
        mine = jobs.get(s["id"], [])
        kinds = sorted(str(j["kind"]) for j in mine)
        if kinds != sorted(JOB_KINDS):
            yield Violation("pending_has_jobs", f"settlement {s['id']} has jobs {kinds}")
        elif not any(j["kind"] == "execute" and j["status"] == "queued" for j in mine):
            yield Violation(
                "pending_has_jobs", f"settlement {s['id']} is pending but its execute job is done"
            )


def jobs_have_settlement(conn: sqlite3.Connection) -> Iterator[Violation]:
    """Every job finalizes an existing settlement."""
    for j in _rows(
        conn,
        "SELECT j.id, j.settlement_id FROM jobs j LEFT JOIN settlements s "
        "ON s.id = j.settlement_id WHERE s.id IS NULL",
    ):
        yield Violation(
            "jobs_have_settlement",
            f"job {j['id']} points at missing settlement {j['settlement_id']}",
        )


def completed_has_finalized_at(conn: sqlite3.Connection) -> Iterator[Violation]:
    """A completed settlement says when it was finalized and has no transfer left pending."""
    for s in _rows(
        conn,
        "SELECT id FROM settlements WHERE status = 'completed' "
        "AND (finalized_at IS NULL OR finalized_at = '')",
    ):
        yield Violation("completed_has_finalized_at", f"settlement {s['id']} has no finalizedAt")
    for s in _rows(
        conn,
        "SELECT DISTINCT s.id FROM settlements s JOIN transfers t "
        "ON t.settlement_id = s.id WHERE s.status = 'completed' "
        "AND t.status IN ('pending', 'failed')",
    ):
        yield Violation(
            "completed_has_finalized_at",
            f"settlement {s['id']} is completed with transfers still open",
        )


def failed_has_reason(conn: sqlite3.Connection) -> Iterator[Violation]:
    """A failed settlement says why."""
    for s in _rows(
        conn,
        "SELECT id FROM settlements WHERE status = 'failed' AND (reason IS NULL OR reason = '')",
    ):
        yield Violation("failed_has_reason", f"settlement {s['id']} failed without a reason")


def no_negative_available(conn: sqlite3.Connection) -> Iterator[Violation]:
    """No balance (connection available or held, partner available) is negative or non-integer."""
    for b in _rows(conn, "SELECT * FROM balances"):
        for column in ("available", "held"):
            value = _int(b[column])
            if value is None or value < 0:
                yield Violation(
                    "no_negative_available",
                    f"{b['connection_id']} {b['currency']} {column} = {b[column]}",
                )
    for b in _rows(conn, "SELECT * FROM partner_balances"):
        value = _int(b["available"])
        if value is None or value < 0:
            yield Violation(
                "no_negative_available",
                f"partner {b['partner_id']} {b['currency']} = {b['available']}",
            )


def disputes_assigned_to_existing_settlement(conn: sqlite3.Connection) -> Iterator[Violation]:
    """A dispute is on an existing settlement and, once assigned, settled in an existing one."""
    for d in _rows(
        conn,
        "SELECT d.id, d.disputed_settlement_id, d.settled_in_settlement_id, "
        "s.id AS on_id, t.id AS in_id FROM disputes d "
        "LEFT JOIN settlements s ON s.id = d.disputed_settlement_id "
        "LEFT JOIN settlements t ON t.id = d.settled_in_settlement_id",
    ):
        if d["on_id"] is None:
            yield Violation(
                "disputes_assigned_to_existing_settlement",
                f"dispute {d['id']} is on missing settlement {d['disputed_settlement_id']}",
            )
        if d["settled_in_settlement_id"] is not None and d["in_id"] is None:
            yield Violation(
                "disputes_assigned_to_existing_settlement",
                f"dispute {d['id']} is settled in missing settlement "
                f"{d['settled_in_settlement_id']}",
            )


Check = Callable[[sqlite3.Connection], Iterator[Violation]]
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
    return [violation for run in CHECKS for violation in run(conn)]


def examine(conn: sqlite3.Connection) -> Summary:
    """Check inside one read transaction, so a live server's writes cannot tear the picture."""
    own = conn.in_transaction
    if not own:
        conn.execute("BEGIN")
    try:
        violations = check(conn)
        settlements = conn.execute("SELECT COUNT(*) FROM settlements").fetchone()[0]
        transfers = conn.execute("SELECT COUNT(*) FROM transfers").fetchone()[0]
    finally:
        if not own:
            conn.execute("ROLLBACK")
    return Summary(int(settlements), int(transfers), tuple(violations))
