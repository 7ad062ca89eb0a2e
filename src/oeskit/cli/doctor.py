"""`oeskit doctor`: check a sandbox database's invariants (after a crash, a soak, a bug report)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import click

from oeskit.doctor import examine


@click.command()
@click.option(
    "--db",
    "db_path",
    required=True,
    type=click.Path(dir_okay=False, exists=True),
    help="SQLite file of the sandbox (it may be served while checked).",
)
def doctor(db_path: str) -> None:
    """Check the database's invariants; print each violation and exit 1 if there is any."""
    # Read-only URI: the doctor must never repair, migrate or create what it inspects.
    conn = sqlite3.connect(
        f"{Path(db_path).resolve().as_uri()}?mode=ro", uri=True, isolation_level=None, timeout=10
    )
    try:
        summary = examine(conn)
    except sqlite3.DatabaseError as exc:
        raise click.ClickException(f"{db_path}: not a readable oeskit database ({exc})") from None
    finally:
        conn.close()
    for violation in summary.violations:
        click.echo(str(violation))
    if not summary.ok:
        click.echo(
            f"{len(summary.violations)} violation(s) in {summary.settlements} settlements, "
            f"{summary.transfers} transfers"
        )
        raise SystemExit(1)
    click.echo(f"ok: {summary.settlements} settlements, {summary.transfers} transfers checked")
