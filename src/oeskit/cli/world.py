"""`oeskit world load WORLD --db PATH` and `oeskit world check WORLD`, and the WORLD argument
type that every command taking a world shares (a packaged world's name, or a file path)."""

from __future__ import annotations

from pathlib import Path

import click

from oeskit import fixtures
from oeskit.cli.options import check_clock
from oeskit.clock import utcnow
from oeskit.errors import ConfigError, StoreBusy
from oeskit.store.locator import is_postgres_url
from oeskit.store.sqlite import SqliteStore
from oeskit.store.world_loader import load_world
from oeskit.worlds import WorldError, load_world_file


class WorldParam(click.ParamType):  # type: ignore[type-arg]
    """A world by name (`demo`, shipped in the package) or by path; converts to the file's Path.
    An unknown name is a usage error that lists the packaged names."""

    name = "world"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> Path:
        if isinstance(value, Path):
            return value
        try:
            return fixtures.world_path(str(value))
        except fixtures.UnknownWorld as exc:
            self.fail(str(exc), param, ctx)


WORLD = WorldParam()


@click.group()
def world() -> None:
    """Check worlds and load them into a database."""


def _read(path: Path) -> dict[str, object]:
    try:
        return load_world_file(path)
    except WorldError as exc:
        raise click.ClickException(f"{path}: {exc}") from None


@world.command("check")
@click.argument("path", type=WORLD, metavar="WORLD")
def check(path: Path) -> None:
    """Validate a world (a packaged name such as `demo`, or a file) and say what it holds."""
    data = _read(path)
    counts = ", ".join(f"{len(v)} {k}" for k, v in data.items() if isinstance(v, list) and v)
    click.echo(f"{path}: valid ({counts})")


@world.command("load")
@click.argument("path", type=WORLD, metavar="WORLD")
@click.option(
    "--db",
    required=True,
    envvar="OESKIT_DB",
    help="SQLite file, or PostgreSQL database (postgresql://user@host:port/dbname), to load "
    "into (its state is replaced).",
)
@click.option(
    "--clock",
    default="wall",
    show_default=True,
    callback=check_clock,
    help="wall, frozen or speed=N.",
)
def load(path: Path, db: str, clock: str) -> None:
    """Replace the state of a database with a world (a packaged name or a file)."""
    data = _read(path)
    # `oeskit serve` imports this module for its --world option: psycopg only for a URL.
    from oeskit.store.postgres import PostgresStore, shown

    try:
        store = PostgresStore.open(db) if is_postgres_url(db) else SqliteStore(db)
    except (ConfigError, StoreBusy) as exc:
        raise click.ClickException(str(exc)) from None
    try:
        loaded = load_world(store, data, utcnow(), clock)
    except WorldError as exc:
        raise click.ClickException(f"{path}: {exc}") from None
    finally:
        store.close()
    click.echo(
        f"loaded {path} into {shown(db)}: " + ", ".join(f"{v} {k}" for k, v in loaded.items())
    )
