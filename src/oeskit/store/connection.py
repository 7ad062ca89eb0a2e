"""The SQLite connection under the store: pragmas, migrations, explicit transactions and the
per-request caches. No queries of business data here.

Transactions are explicit: the connection runs in autocommit mode and `immediate()` issues
BEGIN IMMEDIATE, so a writer takes the lock before it reads what it will decide on.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar, cast

import orjson
import sqlite_utils

from oeskit.errors import StoreBusy, StoreGone, StoreUnavailable, StoreUnwritable
from oeskit.store.schema import STATE_TABLES, migrate

Row = dict[str, Any]  # a row as a dict, inside the store only: records cross the ports
_MISSING = object()
_T = TypeVar("_T")
_LOCKED = ("database is locked", "database is busy", "database table is locked")
MEMORY = ":memory:"
log = logging.getLogger("oeskit")


def file_identity(path: str) -> int | None:
    """The file's inode, or None when it is missing. It changes (or goes) when the file is
    deleted, or replaced by another: what a connection holds open is then no longer the file a
    restart would open. Namespaces (`namespace_files.py`) and the commit check both use it."""
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None


def storage_error(exc: BaseException) -> BaseException:
    """The StoreUnavailable an SQLite error stands for (locked, full, read-only, file moved),
    or `exc` itself."""
    if not isinstance(exc, sqlite3.Error):
        return exc
    text = str(exc)
    name = str(getattr(exc, "sqlite_errorname", "") or "")
    if any(locked in text for locked in _LOCKED):
        return StoreBusy(text)
    if name == "SQLITE_READONLY_DBMOVED":
        return StoreGone("the database file was moved or deleted while the server was running")
    if name == "SQLITE_FULL" or "database or disk is full" in text:
        return StoreUnwritable("the disk holding the database is full")
    if name.startswith("SQLITE_READONLY") or "readonly database" in text:
        return StoreUnwritable("the database file is read-only")
    return exc


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
    index directly, nothing to parse); many get one json_each parameter (no variable limit).

    A string holding U+0000 never travels inside the JSON: SQLite's json_each cuts such a value
    at the NUL (it then matched nothing) and PostgreSQL's jsonb refuses it; nor does one holding
    U+E000, which PostgreSQL's store writes encoded (`store/postgres/text.py`), as parameters
    are. Such values (hostile input only) get placeholders beside the JSON."""
    if len(values) <= SMALL_IN:
        return "(" + ",".join("?" * len(values)) + ")", list(values)
    plain: list[object] = []
    odd: list[object] = []
    for value in values:
        (
            odd if isinstance(value, str) and ("\x00" in value or "\ue000" in value) else plain
        ).append(value)
    if not odd:
        return "(SELECT value FROM json_each(?))", [dumps(plain)]
    rows = ", ".join("(?)" for _ in odd)
    return f"(SELECT value FROM json_each(?) UNION ALL VALUES {rows})", [dumps(plain), *odd]


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
        # What this connection has open; `commit` checks it is still the file at `path`.
        self._identity = None if path == MEMORY else file_identity(path)
        self._init_caches()

    def _init_caches(self) -> None:
        self._fault: str | None = None  # the storage fault last logged, until a commit works
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
        except BaseException as exc:
            self.rollback()
            translated = self.translate(exc)
            if translated is exc:
                raise
            raise translated from exc
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
            translated = self.translate(exc)
            if translated is exc:
                raise
            raise translated from exc

    def retry_unit(self, exc: BaseException) -> bool:
        """Whether a commit-group unit that raised `exc` may run again: never with SQLite,
        whose write lock leaves no race to lose (PostgreSQL's store says otherwise)."""
        return False

    def commit(self) -> None:
        """COMMIT, unless the file is no longer the one this connection opened: then nothing
        is committed (StoreGone), since a restart would not find it. One stat a transaction."""
        try:
            self.check_file()
            self.conn.execute("COMMIT")
        except (sqlite3.Error, StoreGone) as exc:
            self.rollback()
            translated = self.translate(exc)
            if translated is exc:
                raise
            raise translated from exc
        self._fault = None

    def rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def write_problem(self) -> str | None:
        """Why a write fails now (the disk is full, the file read-only...), found by making
        one for real (a row in meta); None when it works. For start-up, not requests."""
        try:
            with self.immediate():
                self.conn.execute(
                    "INSERT INTO meta VALUES ('write-check', ?) ON CONFLICT (key) DO UPDATE "
                    "SET value = excluded.value",
                    (new_uuid(),),
                )
        except StoreUnavailable as exc:
            return str(exc)
        return None

    def check_file(self) -> None:
        if self._identity is not None and file_identity(self.path) != self._identity:
            raise StoreGone(
                f"the database file {self.path} was deleted or replaced while the server was "
                "running; nothing more is written to it: restart the server"
            )

    def translate(self, exc: BaseException) -> BaseException:
        """`storage_error(exc)`, logged the first time a fault shows (a lock is not one)."""
        translated = storage_error(exc)
        fault = not isinstance(translated, StoreBusy) and isinstance(translated, StoreUnavailable)
        if fault and str(translated) != self._fault:
            self._fault = str(translated)
            log.error("database %s cannot be written: %s", self.path, translated)
        return translated

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
