"""The SQLite connection under the store: pragmas, migrations, explicit transactions and the
per-request caches. No queries of business data here.

Transactions are explicit: the connection runs in autocommit mode and `immediate()` issues
BEGIN IMMEDIATE, so a writer takes the lock before it reads what it will decide on.
"""

from __future__ import annotations

import hashlib
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar, cast

import orjson
import sqlite_utils

from oeskit.errors import StoreBusy
from oeskit.store.schema import STATE_TABLES, migrate

Row = dict[str, Any]  # a row as a dict, inside the store only: records cross the ports
_MISSING = object()
_T = TypeVar("_T")
_LOCKED = ("database is locked", "database is busy", "database table is locked")


class Cursor(Protocol):
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """What the shared row code uses of a connection: sqlite3's, or the PostgreSQL facade
    (`store/postgres/connection.py`), which takes the same SQL and `?` placeholders."""

    @property
    def in_transaction(self) -> bool: ...
    def execute(self, sql: str, parameters: Any = ..., /) -> Any: ...
    def executemany(self, sql: str, parameters: Any, /) -> Any: ...
    def close(self) -> None: ...


def dumps(value: object) -> str:
    return orjson.dumps(value).decode()


SMALL_IN = 32


def in_list(values: Sequence[object]) -> tuple[str, list[object]]:
    """`IN <sql>` and its parameters. A few values get placeholders (the planner walks the
    index directly, nothing to parse); many get one json_each parameter (no variable limit)."""
    if len(values) <= SMALL_IN:
        return "(" + ",".join("?" * len(values)) + ")", list(values)
    return "(SELECT value FROM json_each(?))", [dumps(list(values))]


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_uuid() -> str:
    return str(uuid.uuid4())


class SqliteBase:
    # What a reset or a world load empties.
    state_tables: tuple[str, ...] = STATE_TABLES

    def __init__(self, path: str, *, busy_timeout_ms: int = 5000) -> None:
        self.path = path
        conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000
        )
        conn.row_factory = sqlite3.Row
        self.conn: Connection = conn
        self.busy_timeout_ms = int(busy_timeout_ms)
        self.conn.execute(f"PRAGMA busy_timeout = {self.busy_timeout_ms}")
        # 32 MiB of page cache (default 2 MiB): a 250,000-transfer insert runs ~30% faster.
        self.conn.execute("PRAGMA cache_size = -32768")
        if path != ":memory:":
            self.conn.execute("PRAGMA journal_mode = WAL")
        # WAL with synchronous=NORMAL never corrupts; a power cut may lose the last commits,
        # which a sandbox can afford and a process kill (what partners' tests do) cannot cause.
        self.conn.execute("PRAGMA synchronous = NORMAL")
        # Checkpoints (the only fsyncs in WAL/NORMAL) cost about half of each commit when SQLite
        # runs them inline every 1000 pages; the server checkpoints on a thread of its own
        # (store/maintenance.py), and this high threshold is only the safety net for others.
        self.conn.execute("PRAGMA wal_autocheckpoint = 20000")
        self.conn.execute("PRAGMA foreign_keys = OFF")
        # Savepoints (one per staging in a commit group) copy the pages they change to a
        # sub-journal; in memory, not a temp file (measured: the inserts of a group ~1.5x faster).
        self.conn.execute("PRAGMA temp_store = MEMORY")
        self.db: Any = sqlite_utils.Database(conn)
        migrate(conn)
        self._init_caches()

    def _init_caches(self) -> None:
        # Who-is-calling lookups (tokens, enterprises, partners) change only when a world is
        # loaded or the sandbox reset; they are cached until the `generation` row in meta moves,
        # which `begin_request` checks with one read per request (instead of four lookups).
        self._cache: dict[tuple[str, str], Any] = {}
        self._generation: str | None = None
        self._faults_armed = True
        self._clock_raw: str | None = None
        self._request_log: list[tuple[object, ...]] = []
        self._meta: dict[str, str] | None = None  # begin_request's snapshot of meta
        self._data_version = -1

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def immediate(self) -> Iterator[None]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT), or, inside one already open, a
        savepoint: either way an exception undoes exactly what the block wrote."""
        if self.conn.in_transaction:
            yield from self._savepoint()
            return
        self.begin()
        try:
            yield
        except BaseException:
            self.rollback()
            raise
        self.commit()

    def _savepoint(self) -> Iterator[None]:
        # One name for every level: ROLLBACK TO / RELEASE act on the innermost of that name.
        self.conn.execute("SAVEPOINT unit")
        try:
            yield
        except BaseException:
            if self.conn.in_transaction:  # some errors make SQLite roll back the whole thing
                self.conn.execute("ROLLBACK TO unit")
                self.conn.execute("RELEASE unit")
            raise
        self.conn.execute("RELEASE unit")

    def begin(self, *, wait: bool = True) -> None:
        """BEGIN IMMEDIATE: take the write lock before reading what the writer decides on.

        With `wait=False` a lock held elsewhere fails at once (StoreBusy) instead of sleeping in
        SQLite's busy handler, which would stall the event loop of an async server; the caller
        retries with an async sleep (store/group.py)."""
        try:
            if wait:
                self.conn.execute("BEGIN IMMEDIATE")
                return
            self.conn.execute("PRAGMA busy_timeout = 0")
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            finally:
                self.conn.execute(f"PRAGMA busy_timeout = {self.busy_timeout_ms}")
        except sqlite3.OperationalError as exc:
            raise self._busy(exc) from exc

    def retry_unit(self, exc: BaseException) -> bool:
        """Whether a commit-group unit that raised `exc` may run again: never with SQLite,
        whose write lock leaves no race to lose (PostgreSQL's store says otherwise)."""
        return False

    def commit(self) -> None:
        try:
            self.conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            self.rollback()
            raise self._busy(exc) from exc

    def rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    @staticmethod
    def _busy(exc: sqlite3.OperationalError) -> Exception:
        if any(text in str(exc) for text in _LOCKED):
            return StoreBusy(str(exc))
        return exc

    def _one(self, sql: str, params: Sequence[object] = ()) -> Row | None:
        row = self.conn.execute(sql, params).fetchone()
        return dict(row) if row is not None else None

    def _all(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        return [dict(row) for row in self.conn.execute(sql, params)]

    def begin_request(self) -> None:
        """Drop cached lookups if another process (or a world load) changed the state.

        The meta rows are re-read only when `PRAGMA data_version` says another connection
        committed since the last read (this connection's own meta writes forget them at once):
        with one worker that is never, and the pragma costs a third of the read."""
        version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        if self._meta is None or version != self._data_version:
            self._meta = dict(
                self.conn.execute(
                    "SELECT key, value FROM meta WHERE key IN ('generation', 'faults', 'clock')"
                ).fetchall()
            )
            self._data_version = version
        values = self._meta
        self._clock_raw = values.get("clock")
        generation = values.get("generation", "")
        if generation != self._generation:
            self._cache.clear()
            self._generation = generation
        self._faults_armed = values.get("faults", "0") != "0"

    def bump_generation(self) -> None:
        """Record that tokens, enterprises or partners changed (world load, reset)."""
        self.conn.execute(
            "INSERT INTO meta VALUES ('generation', ?) ON CONFLICT (key) DO UPDATE "
            "SET value = excluded.value",
            (new_uuid(),),
        )
        self._cache.clear()
        self._clock_raw = None
        self._meta = None

    def _cached(self, kind: str, key: str, load: Callable[[], _T]) -> _T:
        hit = self._cache.get((kind, key), _MISSING)
        if hit is _MISSING:
            hit = self._cache[(kind, key)] = load()
        return cast(_T, hit)

    def end_request(self) -> None:
        """Forget what `begin_request` read; later reads go to the database again."""
        self._clock_raw = None
