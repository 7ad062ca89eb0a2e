"""Read-only queries behind `oeskit doctor` (`oeskit/doctor.py`): the facts its invariants
judge, read from an open sqlite3 connection (or the PostgreSQL store's, which takes the same
SQL) as it is (it may be read-only, or a live server's
database). It never writes, migrates or repairs; amounts come back as stored TEXT, because a
corrupted value is exactly what the doctor must be able to report."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

from oeskit.domain.records import (
    OPEN_SETTLEMENT_STATUSES,
    OPEN_TRANSFER_STATUSES,
    SettlementStatus,
)
from oeskit.store.connection import Connection

_OPEN_SETTLEMENTS = sorted(s.value for s in OPEN_SETTLEMENT_STATUSES)
_OPEN_TRANSFERS = sorted(s.value for s in OPEN_TRANSFER_STATUSES)


def _marks(values: list[str]) -> str:
    return ", ".join("?" for _ in values)


class OrphanTransfer(NamedTuple):
    id: str
    settlement_id: str | None
    status: str
    dispute_closure_id: str | None


class HoldRow(NamedTuple):
    settlement_id: str
    connection_id: str
    currency: str
    amount: str


class OpenTransfer(NamedTuple):
    id: str
    settlement_id: str
    source_connection_id: str | None
    destination_connection_id: str
    currency: str
    quantity: str
    dispute_closure_id: str | None


class JobRow(NamedTuple):
    id: str
    settlement_id: str
    kind: str
    status: str


class BalanceRow(NamedTuple):
    owner_id: str  # a connection, or a partner for partner balances
    currency: str
    available: str
    held: str | None  # None for partner balances


class DisputeLinks(NamedTuple):
    id: str
    disputed_settlement_id: str
    settled_in_settlement_id: str | None
    disputed_exists: bool
    settled_in_exists: bool


class Inspection:
    """The doctor's reads over one connection; `snapshot()` makes them one consistent picture."""

    def __init__(self, conn: sqlite3.Connection | Connection) -> None:
        self.conn = conn
        # PostgreSQL's default isolation gives each statement its own snapshot; the picture
        # must be one.
        self._begin = (
            "BEGIN"
            if isinstance(conn, sqlite3.Connection)
            else "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
        )

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """One read transaction (unless the caller holds one), so a live server's writes
        cannot tear the picture; rolled back, never committed."""
        own = not self.conn.in_transaction
        if own:
            self.conn.execute(self._begin)
        try:
            yield
        finally:
            if own:
                self.conn.execute("ROLLBACK")

    def counts(self) -> tuple[int, int]:
        """(settlements, transfers)."""
        settlements = self.conn.execute("SELECT COUNT(*) FROM settlements").fetchone()[0]
        transfers = self.conn.execute("SELECT COUNT(*) FROM transfers").fetchone()[0]
        return int(settlements), int(transfers)

    def own_transfer_counts(self) -> dict[str, int]:
        """Per settlement, how many transfers it has that no dispute closure added."""
        return {
            r[0]: int(r[1])
            for r in self.conn.execute(
                "SELECT settlement_id, COUNT(*) FROM transfers "
                "WHERE dispute_closure_id IS NULL GROUP BY settlement_id"
            )
        }

    def settlement_payloads(self) -> list[tuple[str, str | None]]:
        """(id, signed payload text) of every settlement; None for world-loaded ones."""
        return [(r[0], r[1]) for r in self.conn.execute("SELECT id, payload FROM settlements")]

    def orphan_transfers(self) -> list[OrphanTransfer]:
        """Transfers whose settlement does not exist (or that have none)."""
        return [
            OrphanTransfer(*r)
            for r in self.conn.execute(
                "SELECT t.id, t.settlement_id, t.status, t.dispute_closure_id "
                "FROM transfers t LEFT JOIN settlements s ON s.id = t.settlement_id "
                "WHERE s.id IS NULL"
            )
        ]

    def holds(self) -> list[HoldRow]:
        return [
            HoldRow(*r)
            for r in self.conn.execute(
                "SELECT settlement_id, connection_id, currency, amount FROM holds"
            )
        ]

    def connection_balances(self) -> list[BalanceRow]:
        return [
            BalanceRow(*r)
            for r in self.conn.execute(
                "SELECT connection_id, currency, available, held FROM balances"
            )
        ]

    def partner_balances(self) -> list[BalanceRow]:
        return [
            BalanceRow(r[0], r[1], r[2], None)
            for r in self.conn.execute(
                "SELECT partner_id, currency, available FROM partner_balances"
            )
        ]

    def settlement_statuses(self) -> dict[str, str]:
        return {r[0]: r[1] for r in self.conn.execute("SELECT id, status FROM settlements")}

    def open_settlement_ids(self) -> list[str]:
        """Settlements whose liabilities stay held (pending, or failed and retriable)."""
        return [
            r[0]
            for r in self.conn.execute(
                f"SELECT id FROM settlements WHERE status IN ({_marks(_OPEN_SETTLEMENTS)})",
                _OPEN_SETTLEMENTS,
            )
        ]

    def open_transfers(self) -> list[OpenTransfer]:
        """Not-yet-executed transfers of open settlements."""
        return [
            OpenTransfer(*r)
            for r in self.conn.execute(
                "SELECT t.id, t.settlement_id, t.source_connection_id, "
                "t.destination_connection_id, t.currency, t.quantity, t.dispute_closure_id "
                "FROM transfers t JOIN settlements s ON s.id = t.settlement_id "
                f"WHERE s.status IN ({_marks(_OPEN_SETTLEMENTS)}) "
                f"AND t.status IN ({_marks(_OPEN_TRANSFERS)})",
                [*_OPEN_SETTLEMENTS, *_OPEN_TRANSFERS],
            )
        ]

    def jobs(self) -> list[JobRow]:
        return [
            JobRow(*r)
            for r in self.conn.execute("SELECT id, settlement_id, kind, status FROM jobs")
        ]

    def signed_pending_settlements(self) -> list[str]:
        """Pending settlements staged through the API (world-loaded ones have no payload)."""
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT id FROM settlements WHERE status = ? AND payload IS NOT NULL",
                (SettlementStatus.PENDING.value,),
            )
        ]

    def orphan_jobs(self) -> list[tuple[str, str]]:
        """(job id, settlement id) of jobs whose settlement does not exist."""
        return [
            (r[0], r[1])
            for r in self.conn.execute(
                "SELECT j.id, j.settlement_id FROM jobs j LEFT JOIN settlements s "
                "ON s.id = j.settlement_id WHERE s.id IS NULL"
            )
        ]

    def completed_without_finalized_at(self) -> list[str]:
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT id FROM settlements WHERE status = ? "
                "AND (finalized_at IS NULL OR finalized_at = '')",
                (SettlementStatus.COMPLETED.value,),
            )
        ]

    def completed_with_open_transfers(self) -> list[str]:
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT DISTINCT s.id FROM settlements s JOIN transfers t "
                "ON t.settlement_id = s.id WHERE s.status = ? "
                f"AND t.status IN ({_marks(_OPEN_TRANSFERS)})",
                [SettlementStatus.COMPLETED.value, *_OPEN_TRANSFERS],
            )
        ]

    def failed_without_reason(self) -> list[str]:
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT id FROM settlements WHERE status = ? AND (reason IS NULL OR reason = '')",
                (SettlementStatus.FAILED.value,),
            )
        ]

    def dispute_links(self) -> list[DisputeLinks]:
        """Each dispute with whether the settlements it names exist."""
        return [
            DisputeLinks(r[0], r[1], r[2], r[3] is not None, r[4] is not None)
            for r in self.conn.execute(
                "SELECT d.id, d.disputed_settlement_id, d.settled_in_settlement_id, "
                "s.id, t.id FROM disputes d "
                "LEFT JOIN settlements s ON s.id = d.disputed_settlement_id "
                "LEFT JOIN settlements t ON t.id = d.settled_in_settlement_id"
            )
        ]
