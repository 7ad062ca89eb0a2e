"""`oeskit world load FILE --db PATH` and `oeskit world check FILE`."""

from __future__ import annotations

import click

from oeskit.cli.options import check_clock
from oeskit.clock import utcnow
from oeskit.store.sqlite import SqliteStore
from oeskit.store.world_loader import load_world
from oeskit.worlds import WorldError, load_world_file


@click.group()
def world() -> None:
    """Check world files and load them into a database."""


def _read(path: str) -> dict[str, object]:
    try:
        return load_world_file(path)
    except WorldError as exc:
        raise click.ClickException(f"{path}: {exc}") from None


@world.command("check")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def check(path: str) -> None:
    """Validate a world file and say what it holds."""
    data = _read(path)
    counts = ", ".join(f"{len(v)} {k}" for k, v in data.items() if isinstance(v, list) and v)
    click.echo(f"{path}: valid ({counts})")


@world.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--db", required=True, help="SQLite file to load into (its state is replaced).")
@click.option(
    "--clock",
    default="wall",
    show_default=True,
    callback=check_clock,
    help="wall, frozen or speed=N.",
)
def load(path: str, db: str, clock: str) -> None:
    """Replace the state of a database with a world."""
    data = _read(path)
    store = SqliteStore(db)
    try:
        loaded = load_world(store, data, utcnow(), clock)
    except WorldError as exc:
        raise click.ClickException(f"{path}: {exc}") from None
    finally:
        store.close()
    click.echo(f"loaded {path} into {db}: " + ", ".join(f"{v} {k}" for k, v in loaded.items()))
