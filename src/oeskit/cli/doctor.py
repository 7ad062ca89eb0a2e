"""`oeskit doctor`: check a sandbox database's invariants (after a crash, a soak, a bug report)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import click
import psycopg

from oeskit.doctor import Summary, examine
from oeskit.errors import ConfigError, StoreBusy
from oeskit.store.postgres import PgDatabase, is_postgres_url


@click.command()
@click.option(
    "--db",
    "db_path",
    required=True,
    envvar="OESKIT_DB",
    help="SQLite file of the sandbox, or its PostgreSQL database "
    "(postgresql://user@host:port/dbname[?schema=NAME]); it may be served while checked.",
)
def doctor(db_path: str) -> None:
    """Check the database's invariants; print each violation and exit 1 if there is any."""
    summary = _examine_postgres(db_path) if is_postgres_url(db_path) else _examine_sqlite(db_path)
    for violation in summary.violations:
        click.echo(str(violation))
    if not summary.ok:
        click.echo(
            f"{len(summary.violations)} violation(s) in {summary.settlements} settlements, "
            f"{summary.transfers} transfers"
        )
        raise SystemExit(1)
    click.echo(f"ok: {summary.settlements} settlements, {summary.transfers} transfers checked")


def _examine_sqlite(db_path: str) -> Summary:
    if not Path(db_path).is_file():
        raise click.BadParameter(f"File {db_path!r} does not exist.", param_hint="'--db'")
    # Read-only URI: the doctor must never repair, migrate or create what it inspects.
    conn = sqlite3.connect(
        f"{Path(db_path).resolve().as_uri()}?mode=ro", uri=True, isolation_level=None, timeout=10
    )
    try:
        return examine(conn)
    except sqlite3.DatabaseError as exc:
        raise click.ClickException(f"{db_path}: not a readable oeskit database ({exc})") from None
    finally:
        conn.close()


def _examine_postgres(url: str) -> Summary:
    """Read the schema as it is: no migration, nothing created."""
    try:
        database = PgDatabase.open(url, max_size=1)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    conn = database.connection(database.url.schema)
    try:
        return examine(conn)
    except (psycopg.Error, StoreBusy) as exc:
        raise click.ClickException(
            f"{database.url.shown} (schema {database.url.schema}): not a readable oeskit "
            f"database ({str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r})"
        ) from None
    finally:
        conn.close()
        database.close()
