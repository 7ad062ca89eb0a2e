"""The PostgreSQL side of the store's connection: the database a `postgresql://` URL names (its
pool, its schemas), and `PgConnection`, the sqlite3-shaped facade the shared row code
(`store/directory.py`, `dispute_rows.py`, `queries.py`, `sandbox_state.py`, `sqlite.py`) writes
through. No queries of business data here.

The shared row code is written in SQLite's dialect with `?` placeholders; `translate` turns a
statement into PostgreSQL's once (cached): `?` -> `%s`, `json_each(?)` ->
`jsonb_array_elements_text(%s::jsonb)` (both yield a column named `value`). The shared SQL holds
no `%` and no `?` inside literals. Bulk INSERTs of plain placeholders run as COPY, or, in
pipeline mode and for upserts, as one INSERT ... SELECT over a JSON array of the rows (a
50,000-row staging: executemany sends one statement a row).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson
import psycopg
from psycopg import errors as pgerrors
from psycopg import pq, sql
from psycopg_pool import ConnectionPool, PoolTimeout

from oeskit.errors import ConfigError, StoreBusy
from oeskit.store.locator import is_postgres_url
from oeskit.store.postgres import text

DEFAULT_SCHEMA = "public"
_JSON_EACH = re.compile(r"json_each\(\?\)")
_PLAIN_INSERT = re.compile(
    r"INSERT INTO (\w+)(?: \(([\w\s,]+)\))? VALUES \((\?(?:,\s*\?)*)\)(.*)",
    re.ASCII | re.DOTALL,
)
COPY_FROM = 64  # rows: below this, a pipelined executemany is as quick
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,62}")


def translate(statement: str) -> str:
    """A statement of the shared row code in PostgreSQL's placeholders and functions."""
    text = _JSON_EACH.sub("jsonb_array_elements_text(?::jsonb)", statement)
    return text.replace("?", "%s")


class DatabaseUnavailable(ConfigError):
    """The database cannot be reached, refuses the credentials, or is not one we can use."""


def describe(exc: BaseException, target: str) -> str:
    """One line an operator can act on, for a failure to connect."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "password authentication failed" in text or "authentication" in text:
        return f"the PostgreSQL server at {target} refused the credentials: {text}"
    if "does not exist" in text:
        return f"the PostgreSQL server at {target} has no such database or role: {text}"
    return f"cannot reach the PostgreSQL server at {target}: {text}"


@dataclass(slots=True)
class PgUrl:
    """A `postgresql://` URL split into what psycopg connects to and oeskit's own `schema`
    parameter (the default namespace's PostgreSQL schema; `public` if absent)."""

    conninfo: str
    schema: str
    shown: str  # the URL without its password, for messages

    def with_schema(self, schema: str) -> str:
        """The URL (password included) of `schema` in this database."""
        parts = urlsplit(self.conninfo)
        query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), ("schema", schema)])
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))

    @classmethod
    def parse(cls, url: str) -> PgUrl:
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        schema = next((v for k, v in query if k == "schema"), DEFAULT_SCHEMA)
        if not _SCHEMA_NAME.fullmatch(schema):
            raise ConfigError(f"--db: schema {schema!r} is not a lower-case PostgreSQL name")
        rest = urlencode([(k, v) for k, v in query if k != "schema"])
        conninfo = urlunsplit((parts.scheme, parts.netloc, parts.path, rest, ""))
        host = parts.hostname or "localhost"
        netloc = f"{parts.username + '@' if parts.username else ''}{host}"
        netloc += f":{parts.port}" if parts.port else ""
        return cls(conninfo, schema, f"postgresql://{netloc}{parts.path}")


@dataclass
class PgDatabase:
    """One PostgreSQL database for this process: its connection pool (each open namespace's
    store keeps one connection; the doctor and the CLI borrow one) and its address."""

    url: PgUrl
    lock_timeout_ms: int = 5000
    max_size: int = 8
    pool: ConnectionPool = field(init=False)

    def __post_init__(self) -> None:
        # One direct attempt first: it fails fast with the server's reason (the pool would
        # retry in the background and only say that it timed out).
        problem = self._probe()
        if problem is not None:
            raise DatabaseUnavailable(problem)
        self.pool = ConnectionPool(
            self.url.conninfo,
            min_size=1,
            max_size=self.max_size,
            # TCP keepalives: a replica's host gone silent is noticed in ~25 s, not hours.
            kwargs={
                "autocommit": True,
                "keepalives": 1,
                "keepalives_idle": 10,
                "keepalives_interval": 5,
                "keepalives_count": 3,
            },
            configure=self._configure,
            check=ConnectionPool.check_connection,
            open=False,
            name="oeskit",
        )
        try:
            self.pool.open(wait=True, timeout=10)
        except PoolTimeout as exc:
            self.pool.close(timeout=0)
            raise DatabaseUnavailable(self._probe() or describe(exc, self.url.shown)) from None

    @classmethod
    def open(cls, url: str, *, lock_timeout_ms: int = 5000, max_size: int = 8) -> PgDatabase:
        return cls(PgUrl.parse(url), lock_timeout_ms, max_size)

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        # A lock held elsewhere past the busy timeout is StoreBusy (503), as with SQLite.
        conn.execute(f"SET lock_timeout = {int(self.lock_timeout_ms)}")
        # A replica that hangs (or loses its network) inside a transaction must not hold the
        # writer gate for ever: the server ends such a session; ours never idle in one.
        conn.execute("SET idle_in_transaction_session_timeout = '30s'")
        text.register(conn)

    def _probe(self) -> str | None:
        """Why a direct connection fails (the pool only says it timed out)."""
        try:
            psycopg.connect(self.url.conninfo, connect_timeout=5).close()
        except psycopg.Error as exc:
            return describe(exc, self.url.shown)
        return None

    def connection(self, schema: str) -> PgConnection:
        return PgConnection(self, schema)

    def close(self) -> None:
        self.pool.close(timeout=1)


class PgConnection:
    """A sqlite3-shaped facade over one pooled psycopg connection whose search_path is one
    schema. Statements are translated (`translate`); rows are plain tuples. A connection lost
    mid-request raises StoreBusy (503 with Retry-After): the server rolled back whatever the
    transaction had written, and the next statement takes a fresh connection from the pool."""

    def __init__(self, database: PgDatabase, schema: str) -> None:
        self.database = database
        self.schema = schema
        self._conn: psycopg.Connection[Any] | None = None
        self._sql: dict[str, str] = {}
        self._column_types: dict[str, list[tuple[str, str]]] = {}
        self._open = False  # a transaction was begun and not yet ended by us

    @property
    def raw(self) -> psycopg.Connection[Any]:
        conn = self._conn
        if conn is None or conn.broken or conn.closed:
            if self._open:
                # Never carry on a transaction on a fresh connection: what it wrote is gone,
                # and a COMMIT there would report a success that is not true.
                raise StoreBusy("the database connection was lost inside a transaction")
            if conn is not None:
                self._conn = None
                self.database.pool.putconn(conn)
            try:
                conn = self.database.pool.getconn(timeout=self.database.lock_timeout_ms / 1000)
            except PoolTimeout as exc:
                raise StoreBusy(f"no database connection available: {exc}") from exc
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
            self._conn = conn
        return conn

    @property
    def in_transaction(self) -> bool:
        conn = self._conn
        if conn is None or conn.broken:
            return self._open
        return conn.info.transaction_status != pq.TransactionStatus.IDLE

    def begin(self, statement: str = "BEGIN") -> None:
        self.run(statement)
        self._open = True

    def commit(self) -> None:
        self.run("COMMIT")
        self._open = False

    def rollback(self) -> None:
        """End the transaction; on a lost connection there is nothing left to roll back."""
        self._open = False
        conn = self._conn
        if conn is None or conn.broken or conn.closed:
            return
        if conn.info.transaction_status != pq.TransactionStatus.IDLE:
            self.run("ROLLBACK")

    def _text(self, statement: str) -> str:
        text = self._sql.get(statement)
        if text is None:
            text = self._sql[statement] = translate(statement)
        return text

    def execute(self, statement: str, params: Sequence[Any] | None = ()) -> psycopg.Cursor[Any]:
        try:
            return self.raw.execute(self._text(statement), params or None)
        except psycopg.Error as exc:
            raise self.classify(exc) from exc

    def executemany(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        batch = rows if isinstance(rows, list) else list(rows)
        if not batch:
            return
        raw = self.raw
        plain = _PLAIN_INSERT.fullmatch(statement) if len(batch) >= COPY_FROM else None
        try:
            with raw.cursor() as cursor:
                if plain is None:
                    cursor.executemany(self._text(statement), batch)
                    return
                if raw.info.pipeline_status != pq.PipelineStatus.OFF or plain.group(4).strip():
                    # COPY cannot run in pipeline mode, nor upsert: one INSERT ... SELECT over
                    # the rows sent as one JSON array (executemany would send a statement a row).
                    self._insert_json(cursor, plain, batch)
                    return
                table, columns = plain.group(1), plain.group(2)
                target: sql.Composable = sql.Identifier(table)
                if columns:
                    names = [sql.Identifier(c.strip()) for c in columns.split(",")]
                    target = sql.SQL("{} ({})").format(target, sql.SQL(", ").join(names))
                with cursor.copy(sql.SQL("COPY {} FROM STDIN").format(target)) as copy:
                    for row in batch:
                        copy.write_row(row)
        except psycopg.Error as exc:
            raise self.classify(exc) from exc

    def _columns(self, table: str) -> list[tuple[str, str]]:
        """(name, type) of `table`'s columns in order, cached."""
        found = self._column_types.get(table)
        if found is None:
            rows = self.raw.execute(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped "
                "ORDER BY attnum",
                (table,),
            ).fetchall()
            found = self._column_types[table] = [(str(n), str(t)) for n, t in rows]
        return found

    def _insert_json(
        self, cursor: psycopg.Cursor[Any], plain: re.Match[str], batch: list[Sequence[Any]]
    ) -> None:
        table, listed, suffix = plain.group(1), plain.group(2), plain.group(4)
        types = dict(self._columns(table))
        names = [c.strip() for c in listed.split(",")] if listed else list(types)
        picks = ", ".join(f"(r->>{i})::{types[name]}" for i, name in enumerate(names))
        statement = (
            f"INSERT INTO {table} ({', '.join(names)}) SELECT {picks} "
            f"FROM jsonb_array_elements(%s::jsonb) AS r{suffix}"
        )
        try:
            rows = orjson.dumps(batch).decode()
        except TypeError:  # a value JSON cannot carry (bytes): one statement a row
            rows = "\\u0000"
        if "\\u0000" in rows:  # jsonb holds no NUL, the text dumper encodes it (text.py)
            cursor.executemany(self._text(plain.group(0)), batch)
            return
        cursor.execute(statement, (rows,))

    def run(self, statement: sql.Composable | str, params: Sequence[Any] = ()) -> None:
        """A statement in PostgreSQL's own dialect (not translated)."""
        try:
            self.raw.execute(statement, params or None)  # type: ignore[arg-type]
        except psycopg.Error as exc:
            raise self.classify(exc) from exc

    def classify(self, exc: psycopg.Error) -> Exception:
        """A lost connection or a lock timeout is StoreBusy; anything else is itself."""
        conn = self._conn
        if isinstance(exc, pgerrors.LockNotAvailable):
            return StoreBusy(f"the database stayed locked: {exc}")
        if isinstance(exc, psycopg.OperationalError) and (
            conn is None or conn.broken or conn.closed
        ):
            return StoreBusy(f"the database connection was lost: {exc}")
        return exc

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self.database.pool.putconn(conn)


def shown(db: str) -> str:
    """`db` as messages and banners show it: a PostgreSQL URL without its password."""
    if not is_postgres_url(db):
        return db
    url = PgUrl.parse(db)
    return url.shown if url.schema == DEFAULT_SCHEMA else f"{url.shown}?schema={url.schema}"


def namespace_schema(base: str, name: str) -> str:
    """The PostgreSQL schema of namespace `name` (`oeskit_ns_run-42` beside `public`)."""
    return f"oeskit_ns_{name}" if base == DEFAULT_SCHEMA else f"{base}_ns_{name}"
