"""Namespaces on PostgreSQL: each `/ns/{name}/` is a schema of its own beside the default
namespace's (`oeskit_ns_run-42` beside `public`), the same tables, clock, jobs, faults and
request log, so one cannot read or move another's. The database is the registry every replica
shares: a namespace exists when its schema does; creating one holds a transaction advisory lock
while it counts the schemas against the limit, so two replicas cannot both take the last place.
The same interface as `store/namespace_files.py`."""

from __future__ import annotations

import re

from psycopg import sql

from oeskit.errors import NamespaceLimit
from oeskit.store.postgres.connection import PgDatabase, namespace_schema
from oeskit.store.postgres.schema import LOCK_NAMESPACES

_NAME = re.compile(r"[a-z0-9-]{1,40}")


class PgNamespaces:
    def __init__(self, database: PgDatabase, base: str, limit: int) -> None:
        self.database = database
        self.base = base
        self.limit = limit
        self.prefix = namespace_schema(base, "")

    def path(self, name: str) -> str:
        """The namespace's schema (what `open_store` takes as the path)."""
        return namespace_schema(self.base, name)

    def names(self) -> list[str]:
        with self.database.pool.connection() as conn:
            found = conn.execute(
                "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s)", (self.prefix,)
            ).fetchall()
        names = (str(row[0])[len(self.prefix) :] for row in found)
        return sorted(n for n in names if _NAME.fullmatch(n))

    def identity(self, name: str) -> int | None:
        """The schema's oid: it changes (or goes) when another replica deletes the namespace."""
        with self.database.pool.connection() as conn:
            row = conn.execute(
                "SELECT oid FROM pg_namespace WHERE nspname = %s", (self.path(name),)
            ).fetchone()
        return int(row[0]) if row else None

    def create(self, name: str) -> None:
        """Make room for `name` (an empty schema), or raise NamespaceLimit; a no-op if it
        exists."""
        with self.database.pool.connection() as conn, conn.transaction():
            conn.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (LOCK_NAMESPACES, self.base)
            )
            if self.identity(name) is not None:
                return
            if len(self.names()) >= self.limit:
                raise NamespaceLimit(self.limit)
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(self.path(name))))

    def remove(self, name: str) -> bool:
        """Drop the namespace's schema and all it holds; False if it did not exist."""
        with self.database.pool.connection() as conn, conn.transaction():
            conn.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (LOCK_NAMESPACES, self.base)
            )
            row = conn.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.path(name),)
            ).fetchone()
            if row is None:
                return False
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(self.path(name))))
            return True

    def remove_all(self) -> None:
        for name in self.names():
            self.remove(name)
