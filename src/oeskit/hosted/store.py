"""The reference partner's SQLite file: accounts, allocations and deallocations, seen token ids.

Every change runs in one `BEGIN IMMEDIATE` transaction on a connection of its own (taken from a
small pool of idle ones: opening and closing a connection per request cost more than the work,
the last close even checkpointing the WAL), so writers serialise on SQLite's lock whatever
thread or process they run in: of racing duplicates, the first inserts and the others find its
row and are answered as retries. The primary key of `reservations` is the one unique index that
allocation and deallocation ids share, and it would refuse a second row even if two writers got
past the lookup.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from oeskit.hosted.rules import (
    Account,
    Amount,
    Kind,
    Reservation,
    ReservationRequest,
    Status,
)

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS accounts (
    id INTEGER PRIMARY KEY,
    partners_connection_id TEXT NOT NULL UNIQUE,
    partners_client_id TEXT NOT NULL,
    connection_token TEXT NOT NULL UNIQUE,
    connection_id TEXT UNIQUE,  -- one connection per account, one account per connection
    client_id TEXT
);
CREATE TABLE IF NOT EXISTS reservations (
    id TEXT PRIMARY KEY,  -- allocationId or deallocationId: one unique index for both kinds
    kind TEXT NOT NULL CHECK (kind IN ('allocation', 'deallocation')),
    partner_ref TEXT NOT NULL UNIQUE,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    client_id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    partners_connection_id TEXT NOT NULL,
    partners_client_id TEXT NOT NULL,
    currency TEXT NOT NULL,
    quantity TEXT NOT NULL,  -- base units; TEXT because they may not fit in 64 bits
    status TEXT NOT NULL CHECK (status IN ('reserved', 'rejected', 'cleared', 'released')),
    rejection_reason TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS reservations_by_balance ON reservations (account_id, currency);
CREATE TABLE IF NOT EXISTS seen_jti (
    jti TEXT PRIMARY KEY,
    expires INTEGER NOT NULL  -- no longer acceptable after this (exp plus leeway)
);
"""
# Attempts at a unit of work that a unique constraint refused (a racing writer won; the next
# attempt finds its row).
_ATTEMPTS = 3
# Idle connections kept for the next unit of work (more are opened when more work at once).
_IDLE_KEPT = 8


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class HostedStore:
    """The SQLite file at `path`; each unit of work gets its own connection and transaction
    (connections are reused, one unit of work at a time)."""

    def __init__(self, path: Path, busy_timeout_ms: int = 10_000) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self._idle: list[sqlite3.Connection] = []
        self._idle_lock = threading.Lock()
        with closing(self._connect()) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        # Autocommit mode: transactions are the explicit BEGIN IMMEDIATE below, nothing implicit.
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
        db.execute("PRAGMA synchronous=NORMAL")
        db.row_factory = sqlite3.Row
        return db

    def close(self) -> None:
        """Close the idle connections (a unit of work after this opens a new one)."""
        with self._idle_lock:
            idle, self._idle = self._idle, []
        for db in idle:
            db.close()

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A connection no other unit of work holds: an idle one, else a new one. It goes back
        to the pool only when the block ended outside any transaction."""
        with self._idle_lock:
            db = self._idle.pop() if self._idle else None
        db = db or self._connect()
        try:
            yield db
        finally:
            kept = False
            if not db.in_transaction:
                with self._idle_lock:
                    if len(self._idle) < _IDLE_KEPT:
                        self._idle.append(db)
                        kept = True
            if not kept:
                db.close()

    @contextmanager
    def transaction(self) -> Iterator[SqliteBook]:
        """One `BEGIN IMMEDIATE` transaction: committed when the block ends, else rolled back."""
        with self._connection() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield SqliteBook(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def run(self, unit: Callable[[SqliteBook], T]) -> T:
        """`unit` in a transaction, again if a unique constraint refused it (a racing writer)."""
        for attempt in range(_ATTEMPTS):
            try:
                with self.transaction() as book:
                    return unit(book)
            except sqlite3.IntegrityError:
                if attempt == _ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def remember_jti(self, jti: str, expires: int, now: int) -> bool:
        """True when `jti` is new (and is now remembered until `expires`), False for a replay."""
        with self.transaction() as book:
            book.db.execute("DELETE FROM seen_jti WHERE expires < ?", (now,))
            cursor = book.db.execute(
                "INSERT OR IGNORE INTO seen_jti (jti, expires) VALUES (?, ?)", (jti, expires)
            )
            return cursor.rowcount == 1

    def partner_id(self, wanted: str | None) -> str:
        """The partner's BitGo id: `wanted` (kept from now on), else the kept one, else new."""
        with self.transaction() as book:
            row = book.db.execute("SELECT value FROM meta WHERE key = 'partner_id'").fetchone()
            value = wanted or (row["value"] if row else str(uuid.uuid4()))
            book.db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('partner_id', ?)", (value,)
            )
            return value

    def create_accounts(self, count: int) -> list[Account]:
        """`count` new empty accounts, each with a fresh connection token."""
        created = []
        with self.transaction() as book:
            for _ in range(count):
                number = secrets.token_hex(6)
                token = "ct-" + secrets.token_urlsafe(18)
                cursor = book.db.execute(
                    "INSERT INTO accounts (partners_connection_id, partners_client_id,"
                    " connection_token) VALUES (?, ?, ?)",
                    (f"account-{number}", f"user-{number}", token),
                )
                assert cursor.lastrowid is not None
                created.append(
                    Account(cursor.lastrowid, f"account-{number}", f"user-{number}", token)
                )
        return created


class SqliteBook:
    """`rules.Book` on one open transaction."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def account_by_token(self, token: str) -> Account | None:
        row = self.db.execute(
            "SELECT * FROM accounts WHERE connection_token = ?", (token,)
        ).fetchone()
        return _account(row) if row else None

    def account_by_connection(self, connection_id: str) -> Account | None:
        row = self.db.execute(
            "SELECT * FROM accounts WHERE connection_id = ?", (connection_id,)
        ).fetchone()
        return _account(row) if row else None

    def link(self, account_id: int, connection_id: str, client_id: str) -> None:
        self.db.execute(
            "UPDATE accounts SET connection_id = ?, client_id = ? WHERE id = ?",
            (connection_id, client_id, account_id),
        )

    def reservation(self, reservation_id: str) -> Reservation | None:
        row = self.db.execute(
            "SELECT * FROM reservations WHERE id = ?", (reservation_id,)
        ).fetchone()
        return _reservation(row) if row else None

    def reservations(self, account_id: int, currency: str) -> list[Reservation]:
        rows = self.db.execute(
            "SELECT * FROM reservations WHERE account_id = ? AND currency = ?",
            (account_id, currency),
        )
        return [_reservation(row) for row in rows]

    def add(self, reservation: Reservation) -> None:
        request, now = reservation.request, _now()
        self.db.execute(
            "INSERT INTO reservations (id, kind, partner_ref, account_id, client_id,"
            " connection_id, partners_connection_id, partners_client_id, currency, quantity,"
            " status, rejection_reason, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                request.id,
                request.kind.value,
                reservation.partner_ref,
                reservation.account_id,
                request.client_id,
                request.connection_id,
                request.partners_connection_id,
                request.partners_client_id,
                request.amount.currency,
                str(request.amount.quantity),
                reservation.status.value,
                reservation.rejection_reason,
                now,
                now,
            ),
        )

    def set_status(self, reservation_id: str, status: Status) -> None:
        self.db.execute(
            "UPDATE reservations SET status = ?, updated_at = ? WHERE id = ?",
            (status.value, _now(), reservation_id),
        )

    def new_partner_ref(self, kind: Kind) -> str:
        prefix = "alloc" if kind is Kind.ALLOCATION else "dealloc"
        return f"{prefix}-{uuid.uuid4().hex[:16]}"

    def accounts(self) -> list[Account]:
        return [_account(row) for row in self.db.execute("SELECT * FROM accounts ORDER BY id")]


def _account(row: sqlite3.Row) -> Account:
    return Account(
        id=row["id"],
        partners_connection_id=row["partners_connection_id"],
        partners_client_id=row["partners_client_id"],
        connection_token=row["connection_token"],
        connection_id=row["connection_id"],
        client_id=row["client_id"],
    )


def _reservation(row: sqlite3.Row) -> Reservation:
    request = ReservationRequest(
        kind=Kind(row["kind"]),
        id=row["id"],
        amount=Amount(row["currency"], int(row["quantity"])),
        client_id=row["client_id"],
        connection_id=row["connection_id"],
        partners_connection_id=row["partners_connection_id"],
        partners_client_id=row["partners_client_id"],
    )
    return Reservation(
        request=request,
        account_id=row["account_id"],
        partner_ref=row["partner_ref"],
        status=Status(row["status"]),
        rejection_reason=row["rejection_reason"],
    )
