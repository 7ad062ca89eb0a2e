"""Which store a `--db` value names: a SQLite file, or a PostgreSQL database by URL.

Imports no database driver, so a server on SQLite never loads psycopg (about 20 MB of each
worker's memory); the PostgreSQL store is imported only where a URL names it.
"""

from __future__ import annotations

from typing import Final

SCHEMES: Final = ("postgresql://", "postgres://")


def is_postgres_url(db: str) -> bool:
    return db.startswith(SCHEMES)
