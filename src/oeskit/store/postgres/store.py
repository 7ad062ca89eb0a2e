"""PostgresStore: the domain's Store and Reads ports on one PostgreSQL schema, for several
`oeskit serve` replicas on one database. It reuses the SQLite store's row code (the SQL is
translated, see `connection.py`) and replaces what SQLite did with its file lock:

- Write transactions pass a **writer gate**, a transaction advisory lock on the schema. The
  store's calls are synchronous on the event loop (as with SQLite), so a group commit must not
  sit in a blocking row-lock wait behind another replica: it *tries* the gate and, if another
  replica holds it, rolls back and waits with an async sleep (`store/group.py`, StoreBusy), as
  SQLite's BEGIN IMMEDIATE does. Blocking writers (job loop, control plane) wait up to the busy
  timeout (`lock_timeout`). A killed replica's gate goes with its connection.
- Correctness does not rest on the gate alone: the balance rows a staging checks and the
  partner balances an execution spends are read `FOR UPDATE`; externalIds per partner and a
  partner's nonces (when it enforces unique nonces) are unique constraints, and a unit that hits
  one runs again and sees the winner (`retry_unit`); due jobs are claimed `FOR UPDATE SKIP
  LOCKED`.
- The clock, faults and generation live in `meta` as with SQLite; PostgreSQL has no
  `PRAGMA data_version`, so each request reads those three rows (one round trip).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors as pgerrors
from psycopg import pq, sql

from oeskit.domain.model import Balance, Connection
from oeskit.domain.records import Settlement
from oeskit.errors import StoreBusy
from oeskit.store.connection import SMALL_IN, Row, in_list
from oeskit.store.postgres.connection import DatabaseUnavailable, PgConnection, PgDatabase
from oeskit.store.postgres.schema import LOCK_WRITER, STATE_TABLES, migrate
from oeskit.store.sqlite import SqliteStore

POOL_SPARE = 4  # connections beside the stores': the namespace registry, the doctor
_META = "SELECT key, value FROM meta WHERE key IN ('generation', 'faults', 'clock')"
_RETRIED = (pgerrors.UniqueViolation, pgerrors.SerializationFailure, pgerrors.DeadlockDetected)


class PgTables:
    """The two calls of sqlite-utils' Table the world loader and faults use, as INSERTs."""

    def __init__(self, conn: PgConnection) -> None:
        self.conn = conn

    def table(self, name: str) -> PgTable:
        return PgTable(self.conn, name)


class PgTable:
    def __init__(self, conn: PgConnection, name: str) -> None:
        self.conn = conn
        self.name = name

    def insert(self, record: dict[str, Any]) -> None:
        self.insert_all([record])

    def insert_all(self, records: Iterable[dict[str, Any]]) -> None:
        batch = list(records)
        if not batch:
            return
        columns = list(batch[0])
        self.conn.executemany(
            f"INSERT INTO {self.name} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)})",
            [tuple(r.get(c) for c in columns) for r in batch],
        )


class PostgresStore(SqliteStore):
    state_tables = STATE_TABLES
    # One replica claims each due job; the others skip it rather than wait for its lock.
    claim_lock = " FOR UPDATE SKIP LOCKED"
    sql_now = "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')"

    def __init__(
        self, database: PgDatabase, schema: str | None = None, *, busy_timeout_ms: int = 5000
    ) -> None:
        self.database = database
        self.owns_database = False
        self.schema = schema or database.url.schema
        self.path = f"{database.url.shown} (schema {self.schema})"
        self.busy_timeout_ms = int(busy_timeout_ms)
        self.conn = self.pg = database.connection(self.schema)
        try:
            migrate(self.pg.raw, self.schema)
            row = self.pg.raw.execute(
                "SELECT oid FROM pg_namespace WHERE nspname = %s", (self.schema,)
            ).fetchone()
        except psycopg.Error as exc:
            self.pg.close()
            raise DatabaseUnavailable(
                f"cannot use schema {self.schema!r} of {database.url.shown}: "
                + (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            ) from None
        except BaseException:
            self.pg.close()
            raise
        self.gate = (LOCK_WRITER, int(row[0]) if row else 0)
        self.db = PgTables(self.pg)
        self._depth = 0  # savepoints open
        self._init_caches()

    @classmethod
    def open(
        cls,
        database: PgDatabase | str,
        schema: str | None = None,
        *,
        busy_timeout_ms: int = 5000,
        namespaces: int = 0,
    ) -> PostgresStore:
        """A store on `database`, or on a database of its own opened from a URL (closed with
        the store), whose pool has room for `namespaces` more stores (each open namespace
        keeps one connection) besides this one and the registry's."""
        if isinstance(database, PgDatabase):
            return cls(database, schema, busy_timeout_ms=busy_timeout_ms)
        own = PgDatabase.open(
            database, lock_timeout_ms=busy_timeout_ms, max_size=namespaces + POOL_SPARE
        )
        try:
            store = cls(own, schema, busy_timeout_ms=busy_timeout_ms)
        except BaseException:
            own.close()
            raise
        store.owns_database = True
        return store

    @property
    def url(self) -> str:
        """The `--db` URL of this store's schema (what `oeskit doctor --db` takes)."""
        return self.database.url.with_schema(self.schema)

    def close(self) -> None:
        self.pg.close()
        if self.owns_database:
            self.database.close()

    # --- transactions ---------------------------------------------------------------------
    def begin(self, *, wait: bool = True) -> None:
        """BEGIN, then the writer gate: waited for (up to lock_timeout), or with `wait=False`
        tried once, StoreBusy at once if another replica holds it (see the module's doc)."""
        self.pg.begin()
        try:
            if wait:
                self.pg.run("SELECT pg_advisory_xact_lock(%s, %s)", self.gate)
                return
            row = self.pg.raw.execute(
                "SELECT pg_try_advisory_xact_lock(%s, %s)", self.gate
            ).fetchone()
        except BaseException:
            self.rollback()
            raise
        if not (row and row[0]):
            self.rollback()
            raise StoreBusy("another replica is writing")

    def commit(self) -> None:
        try:
            self.pg.commit()
        except Exception:
            self.rollback()
            raise

    def rollback(self) -> None:
        # A lost connection: the server rolled back with it.
        with contextlib.suppress(StoreBusy):
            self.pg.rollback()

    def _savepoint(self) -> Iterator[None]:
        """A savepoint as with SQLite (named by depth). The outermost one (a unit of a commit
        group, or a write inside a transaction) runs in pipeline mode: statements whose results
        nobody reads (the inserts of a staging) go out without waiting, a read sends the queue
        and waits once (a staging is ~5 round trips instead of ~15). The pipeline is synced
        before the block ends, so an error is raised inside the unit it belongs to; the unit is
        rolled back outside the pipeline (an SQL error aborts whatever is queued after it)."""
        raw = self.pg.raw
        self._depth += 1
        name = f"unit{self._depth}"
        try:
            if raw.info.pipeline_status == pq.PipelineStatus.OFF:
                yield from self._pipelined(raw, name)
            else:
                yield from self._nested(name)
        finally:
            self._depth -= 1

    def _pipelined(self, raw: psycopg.Connection[Any], name: str) -> Iterator[None]:
        try:
            with raw.pipeline():
                self.conn.execute(f"SAVEPOINT {name}")
                yield
                self.conn.execute(f"RELEASE {name}")
        except BaseException as exc:
            if self.pg.in_transaction:
                with contextlib.suppress(StoreBusy):  # a lost connection undid everything
                    self.conn.execute(f"ROLLBACK TO {name}")
                    self.conn.execute(f"RELEASE {name}")
            if isinstance(exc, psycopg.Error):
                raise self.pg.classify(exc) from exc
            raise

    def _nested(self, name: str) -> Iterator[None]:
        self.conn.execute(f"SAVEPOINT {name}")
        try:
            yield
        except (psycopg.Error, StoreBusy):
            raise  # the pipeline is aborted: the outermost savepoint undoes it all
        except BaseException:
            self.conn.execute(f"ROLLBACK TO {name}")
            self.conn.execute(f"RELEASE {name}")
            raise
        self.conn.execute(f"RELEASE {name}")

    def retry_unit(self, exc: BaseException) -> bool:
        """A unit of a commit group that lost a race on a unique constraint (another replica
        committed the same externalId or nonce first) runs again and sees the winner."""
        return isinstance(exc, _RETRIED) or isinstance(exc.__cause__, _RETRIED)

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """A read-only transaction seeing one snapshot (the doctor's picture of a live base)."""
        self.pg.begin("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            yield
        finally:
            self.rollback()

    def _one(self, statement: str, params: Any = ()) -> Row | None:
        cursor = self.conn.execute(statement, params)
        row = cursor.fetchone()
        if row is None:
            return None
        return dict(zip((d.name for d in cursor.description), row, strict=True))

    def _all(self, statement: str, params: Any = ()) -> list[Row]:
        cursor = self.conn.execute(statement, params)
        names = [d.name for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def begin_request(self) -> None:
        """Read the generation, the armed-faults count and the clock (one round trip): any
        replica may have moved them. A connection found lost is replaced once (nothing was
        open on it); if the database stays unreachable the request goes on without the
        snapshot, and its first use of the store answers 503 with Retry-After (StoreBusy)."""
        values: dict[str, str] | None = None
        for _ in (1, 2):
            with contextlib.suppress(StoreBusy):
                values = dict(self.conn.execute(_META).fetchall())
                break
        self._meta = values
        if values is None:
            self._clock_raw = None
            return
        self._clock_raw = values.get("clock")
        generation = values.get("generation", "")
        if generation != self._generation:
            self._cache.clear()
            self._generation = generation
        self._faults_armed = values.get("faults", "0") != "0"

    def connections(
        self, partner_id: str, ids: Iterable[str] | None = None
    ) -> dict[str, Connection]:
        """As SQLite's, but a few named connections come from the per-generation cache (a
        round trip saved on each small staging; only a world load writes connections, and it
        moves the generation)."""
        if ids is None:
            return super().connections(partner_id, ids)
        wanted = list(ids)
        if len(wanted) > SMALL_IN:
            return super().connections(partner_id, wanted)
        cache = self._cache
        missing = [i for i in wanted if ("connection", f"{partner_id}/{i}") not in cache]
        if missing:
            found = super().connections(partner_id, missing)
            for i in missing:
                cache[("connection", f"{partner_id}/{i}")] = found.get(i)
        out: dict[str, Connection] = {}
        for i in wanted:
            hit = cache[("connection", f"{partner_id}/{i}")]
            if hit is not None:
                out[i] = hit
        return out

    # --- rows whose PostgreSQL form differs ---------------------------------------------------
    def _lock(self) -> str:
        return " FOR UPDATE" if self.pg.in_transaction else ""

    def balances(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Balance]:
        """As SQLite's, and inside a transaction the rows are locked until it ends: a staging
        on another replica that needs them waits for this one's holds."""
        wanted = set(keys)
        if not wanted:
            return {}
        members, values = in_list(sorted({c for c, _ in wanted}))
        found = self.conn.execute(
            "SELECT connection_id, currency, available, held FROM balances "
            "WHERE connection_id IN "
            + members
            + " ORDER BY connection_id, currency"
            + self._lock(),
            values,
        ).fetchall()  # one call: iterating the cursor costs a method call a row
        return {
            (r[0], r[1]): Balance(int(r[2]), int(r[3])) for r in found if (r[0], r[1]) in wanted
        }

    def move_balance(self, connection_id: str, currency: str, available: int, held: int) -> None:
        self.conn.execute(
            "INSERT INTO balances VALUES (?, ?, ?, ?) ON CONFLICT (connection_id, currency) "
            "DO UPDATE SET available = (balances.available::numeric + ?::numeric)::text, "
            "held = (balances.held::numeric + ?::numeric)::text",
            (connection_id, currency, str(available), str(held), str(available), str(held)),
        )

    def partner_balance(self, partner_id: str, currency: str) -> int:
        row = self.conn.execute(
            "SELECT available FROM partner_balances WHERE partner_id = ? AND currency = ?"
            + self._lock(),
            (partner_id, currency),
        ).fetchone()
        return int(row[0]) if row else 0

    def move_partner_balance(self, partner_id: str, currency: str, delta: int) -> None:
        self.conn.execute(
            "INSERT INTO partner_balances VALUES (?, ?, ?) ON CONFLICT (partner_id, currency) "
            "DO UPDATE SET available = (partner_balances.available::numeric + ?::numeric)::text",
            (partner_id, currency, str(delta), str(delta)),
        )

    def insert_settlement(self, settlement: Settlement) -> None:
        super().insert_settlement(settlement)
        partner = self.partner(settlement.partner_id)
        if settlement.nonce is not None and partner is not None and partner.enforce_unique_nonce:
            self.conn.execute(
                "INSERT INTO nonces VALUES (?, ?)", (settlement.partner_id, settlement.nonce)
            )

    def drop(self) -> None:
        """Drop this store's schema and everything in it (a deleted namespace)."""
        self.pg.run(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self.schema)))
