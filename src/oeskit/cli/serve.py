"""`oeskit serve`: run the sandbox, print what a newcomer needs to send a signed request."""

from __future__ import annotations

import contextlib
import logging
import logging.config
import secrets
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import click

from oeskit import logs
from oeskit.cli import serve_banner
from oeskit.cli.options import EnvOption, check_clock
from oeskit.cli.world import WORLD
from oeskit.errors import ConfigError, StoreBusy, StoreUnavailable
from oeskit.logs import FORMATS, LEVELS
from oeskit.settings import (
    DEFAULT_BODY_LIMIT,
    DEFAULT_BODY_TIMEOUT_S,
    DEFAULT_HEADER_TIMEOUT_S,
    DEFAULT_MAX_NAMESPACES,
    DEFAULT_PARTNER_TIMEOUT_S,
    DEFAULT_SHUTDOWN_TIMEOUT_S,
    Settings,
    is_loopback,
)
from oeskit.store.locator import is_postgres_url
from oeskit.worlds import WorldError, load_world_file


@click.command()
@click.option(
    "--host", cls=EnvOption, default="127.0.0.1", show_default=True, help="Interface to bind."
)
@click.option(
    "--port", cls=EnvOption, default=8080, show_default=True, type=int, help="Port to bind."
)
@click.option(
    "--db",
    cls=EnvOption,
    default="oeskit.db",
    show_default=True,
    envvar="OESKIT_DB",
    help="SQLite file (':memory:' for a throwaway sandbox with one worker), or a shared "
    "PostgreSQL database for several replicas: postgresql://user@host:port/dbname "
    "(?schema=NAME for another schema than public).",
)
@click.option(
    "--world",
    "world_path",
    cls=EnvOption,
    type=WORLD,
    metavar="NAME|FILE",
    help="World loaded when the database is empty: a packaged world (demo, minimal) or a file.",
)
@click.option(
    "--fresh",
    cls=EnvOption,
    is_flag=True,
    help="Empty the database and delete every namespace first, so the world is reloaded.",
)
@click.option(
    "--workers",
    cls=EnvOption,
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes sharing the database.",
)
@click.option(
    "--admin-token",
    cls=EnvOption,
    help="Token for the /sandbox/ control plane. On loopback a random one is made if "
    "unset (not with --log-format json, which never logs it); elsewhere the control plane is "
    "off unless this is given.",
)
@click.option(
    "--clock",
    cls=EnvOption,
    default="wall",
    show_default=True,
    callback=check_clock,
    help="Sandbox clock: wall, frozen or speed=N (N sandbox seconds per real second).",
)
@click.option(
    "--body-limit",
    cls=EnvOption,
    default=DEFAULT_BODY_LIMIT,
    show_default=True,
    type=click.IntRange(1),
    help="Largest request body in bytes; larger ones are answered 413.",
)
@click.option(
    "--body-timeout",
    cls=EnvOption,
    default=DEFAULT_BODY_TIMEOUT_S,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help="Seconds a request body may take to arrive, plus one per 64 KiB received; "
    "slower ones are answered 408 (OES-REQ-007).",
)
@click.option(
    "--max-namespaces",
    cls=EnvOption,
    default=DEFAULT_MAX_NAMESPACES,
    show_default=True,
    type=click.IntRange(0),
    help="Most namespaces (/ns/{name}/, one SQLite file each beside --db, or one PostgreSQL "
    "schema each) the server holds; "
    "the first use of one more is answered 409 (OES-SBX-007). 0 turns them off.",
)
@click.option(
    "--bitgo-key",
    cls=EnvOption,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM file with the RSA private key the sandbox signs calls to partners' hosted "
    "endpoints with (X-BitGo-Signature), in every namespace; default: a key made and kept "
    "per database. `oeskit keys bitgo` makes one.",
)
@click.option(
    "--partner-timeout",
    cls=EnvOption,
    default=DEFAULT_PARTNER_TIMEOUT_S,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help="Seconds one call to a partner's hosted endpoint may take before it is retried.",
)
@click.option(
    "--header-timeout",
    cls=EnvOption,
    default=DEFAULT_HEADER_TIMEOUT_S,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help="Seconds a connection may take to send a request's headers before it is closed "
    "(headers over 64 KiB are answered 431, OES-REQ-008).",
)
@click.option(
    "--validate-responses",
    cls=EnvOption,
    is_flag=True,
    help="Check every response against the spec.",
)
@click.option(
    "--log-level",
    cls=EnvOption,
    type=click.Choice(LEVELS),
    help="Least severe log record written [default: warning; info with --log-format json, "
    "which writes a line per request].",
)
@click.option(
    "--log-format",
    cls=EnvOption,
    default="text",
    show_default=True,
    type=click.Choice(FORMATS),
    help="text for people; json for collectors: one object per line (time, level, request "
    "id, route, status, duration, rule), never a token, key or signature.",
)
@click.option(
    "--shutdown-timeout",
    cls=EnvOption,
    default=DEFAULT_SHUTDOWN_TIMEOUT_S,
    show_default=True,
    type=click.FloatRange(0),
    help="On SIGTERM, stop accepting and give the requests in flight this many seconds to "
    "finish before cancelling them; then exit 0.",
)
def serve(
    host: str,
    port: int,
    db: str,
    world_path: Path | None,
    fresh: bool,
    workers: int,
    admin_token: str | None,
    clock: str,
    body_limit: int,
    body_timeout: float,
    max_namespaces: int,
    bitgo_key: Path | None,
    partner_timeout: float,
    header_timeout: float,
    validate_responses: bool,
    log_level: str | None,
    log_format: str,
    shutdown_timeout: float,
) -> None:
    """Run the reference sandbox."""
    import uvicorn

    from oeskit.http.app import create_app, freeze_startup_objects, open_store

    if workers > 1 and db == ":memory:":
        raise click.UsageError("--workers > 1 needs a database file, not ':memory:'")
    world: dict[str, Any] | None = None
    if world_path:
        try:
            world = load_world_file(world_path)
        except WorldError as exc:
            raise click.ClickException(f"{world_path}: {exc}") from None
    if admin_token is None and is_loopback(host) and log_format == "text":
        admin_token = secrets.token_urlsafe(18)
    level = log_level or logs.default_level(log_format)
    log_config = logs.config(log_format, level, redact=[admin_token] if admin_token else [])
    logging.config.dictConfig(log_config)  # for the lines before uvicorn applies it again
    settings = Settings(
        host=host,
        port=port,
        db=db,
        world=str(world_path) if world_path else None,
        workers=workers,
        admin_token=admin_token,
        clock=clock,
        body_limit=body_limit,
        body_timeout_s=body_timeout,
        max_namespaces=max_namespaces,
        bitgo_key=str(bitgo_key.resolve()) if bitgo_key else None,
        partner_timeout_s=partner_timeout,
        header_timeout_s=header_timeout,
        validate_responses=validate_responses,
        # prometheus-client's multiprocess mode: each worker's counts, added up by a scrape.
        metrics_dir=tempfile.mkdtemp(prefix="oeskit-metrics-") if workers > 1 else None,
    )
    if bitgo_key is not None:
        _check_bitgo_key(bitgo_key)
    try:
        if fresh and db != ":memory:":
            _empty(settings)
        store = open_store(settings)  # migrate and load once, before any worker starts
    except WorldError as exc:
        raise click.ClickException(f"{world_path}: {exc}") from None
    except (ConfigError, StoreBusy) as exc:  # a database that cannot be reached or used
        raise click.ClickException(str(exc)) from None
    except StoreUnavailable as exc:  # an empty database that cannot take its world
        raise click.ClickException(f"the database {db} cannot be written: {exc}") from None
    _warn_if_unwritable(store, db)
    if clock != "wall":
        # An explicit --clock applies to a database that already had state, too: re-anchor
        # at its current sandbox time in the requested mode.
        _apply_clock(store, clock)
    base_url = f"http://{host}:{port}"
    if log_format == "json":
        serve_banner.start_record(base_url, settings)
    else:
        serve_banner.banner(base_url, settings, world)
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": level,
        "log_config": log_config,
        "access_log": False,  # our own line per request (oeskit.access) at INFO
        "timeout_graceful_shutdown": shutdown_timeout,
        "http": HTTP_PROTOCOL,
    }
    settings.export()  # the HTTP protocol reads its header timeout from here, in every worker
    with _exit_zero_on_sigterm():
        if workers == 1:
            app = freeze_startup_objects(create_app(settings, store))
            uvicorn.run(app, **options)
            return
        store.close()
        try:
            uvicorn.run(
                "oeskit.http.app:create_app_from_env", factory=True, workers=workers, **options
            )
        finally:
            shutil.rmtree(str(settings.metrics_dir), ignore_errors=True)


@contextlib.contextmanager
def _exit_zero_on_sigterm() -> Iterator[None]:
    """SIGTERM is how orchestrators stop a server: exit 0 once it has stopped. uvicorn stops
    accepting, waits for the requests in flight (up to --shutdown-timeout), shuts the app down,
    then raises the signal again for the handler it found; this is that handler. Installed only
    once the database is open and loaded, so a stop never cuts a world load in half."""

    def stopped(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    previous = signal.signal(signal.SIGTERM, stopped)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _check_bitgo_key(path: Path) -> None:
    from oeskit.signing import bitgo_jwt

    try:
        bitgo_jwt.key_pair_from_private_pem(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, bitgo_jwt.InvalidKeyPem) as exc:
        raise click.BadParameter(f"{path}: {exc}", param_hint="--bitgo-key") from None


# Below this much free space on the database's disk, `serve` warns at start.
LOW_DISK_BYTES = 64 * 1024 * 1024


def _warn_if_unwritable(store: Any, db: str) -> None:
    """Say at start what would otherwise show only as 503s: a database that cannot be written
    (tried for real), or a disk nearly full."""
    if db == ":memory:" or is_postgres_url(db):
        return
    problem = store.write_problem()
    if problem:
        click.echo(
            f"warning: the database {db} cannot be written ({problem}): stagings and "
            "control-plane writes will be answered 503 OES-SRV-003 until it can",
            err=True,
        )
        return
    free = shutil.disk_usage(Path(db).resolve().parent).free
    if free < LOW_DISK_BYTES:
        click.echo(
            f"warning: only {free // 1024} KiB free on the disk holding {db}: when it is "
            "full, writes are answered 503 OES-SRV-003",
            err=True,
        )


# uvicorn's httptools protocol with bounded request headers (431 OES-REQ-008, a header read
# timeout); named, not imported, so each worker process imports it itself.
HTTP_PROTOCOL = "oeskit.http.protocol:BoundedHeadersProtocol"


def _apply_clock(store: Any, option: str) -> None:
    from oeskit.clock import ClockState, utcnow

    real = utcnow()
    try:
        state = ClockState.from_option(option, real, store.clock_state().now(real))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--clock") from None
    with store.immediate():
        store.set_clock_state(state)


def _empty(settings: Settings) -> None:
    from oeskit.store.namespace_files import NamespaceFiles
    from oeskit.store.postgres import PgNamespaces, PostgresStore
    from oeskit.store.sqlite import SqliteStore
    from oeskit.store.world_loader import reset

    if is_postgres_url(settings.db):
        pg = PostgresStore.open(settings.db, busy_timeout_ms=settings.busy_timeout_ms)
        try:
            reset(pg)
            PgNamespaces(pg.database, pg.schema, settings.max_namespaces).remove_all()
        finally:
            pg.close()
        return
    if Path(settings.db).exists():
        store = SqliteStore(settings.db)
        reset(store)
        store.close()
    NamespaceFiles(settings.db, settings.max_namespaces).remove_all()
