"""The store on PostgreSQL (`oeskit serve --db postgresql://...`): the same ports as the SQLite
store, for several replicas on one database. Holds no business rules."""

from __future__ import annotations

from oeskit.store.locator import is_postgres_url
from oeskit.store.postgres.connection import DatabaseUnavailable, PgDatabase, shown
from oeskit.store.postgres.namespaces import PgNamespaces
from oeskit.store.postgres.schema import SchemaTooNew
from oeskit.store.postgres.store import PostgresStore

__all__ = [
    "DatabaseUnavailable",
    "PgDatabase",
    "PgNamespaces",
    "PostgresStore",
    "SchemaTooNew",
    "is_postgres_url",
    "shown",
]
