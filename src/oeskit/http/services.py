"""What handlers share: settings, the store, the error mapper, the clock and id source, one
`Services` per namespace (the default one and each `/ns/{name}/`, see `http/namespaces.py`).

Wiring: with `app.py`, the only http module that imports `oeskit.store`. Handlers reach the
database through the ports typed here (`Reads`, `Worlds`) and the domain's `Store`.

The layers and routes are built once per application; each request finds its namespace's
`Services` through `current()`, which the outermost layer sets for the request's task (a
context variable: connexion calls handlers with their parameters only, and whatever runs in
the request's task, or in a thread it starts, sees the same value)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import os
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from oeskit import ids
from oeskit.clock import format_instant, utcnow
from oeskit.domain import lifecycle
from oeskit.domain.ports import Reads, Worlds
from oeskit.errors import StoreUnavailable
from oeskit.http.errors import ErrorMapper
from oeskit.metrics import Metrics
from oeskit.outbound.client import PartnerClient
from oeskit.outbound.flows import BitgoSide
from oeskit.settings import Settings
from oeskit.store.connection import storage_error
from oeskit.store.group import GroupCommit
from oeskit.store.locator import is_postgres_url
from oeskit.store.maintenance import Checkpointer
from oeskit.store.namespace_files import NamespaceFiles
from oeskit.store.sqlite import SqliteStore
from oeskit.store.world_loader import SqliteWorlds, load_world
from oeskit.worlds import load_world_file

if TYPE_CHECKING:
    from oeskit.store.postgres import PgDatabase, PgNamespaces

log = logging.getLogger("oeskit")

DEFAULT_NAMESPACE = ""

# Set by the namespace layer for each request (`http/namespaces.py`).
CURRENT: ContextVar[Services] = ContextVar("oeskit.services")


def current() -> Services:
    """The services of the namespace the request being handled addresses."""
    return CURRENT.get()


@contextlib.contextmanager
def using(services: Services) -> Iterator[None]:
    """Make `services` current for the block (the namespace layer, and tests)."""
    token = CURRENT.set(services)
    try:
        yield
    finally:
        CURRENT.reset(token)


class UsesServices:
    """Base of the layers and routes built once per app: `self.s` is the current namespace's."""

    __slots__ = ()

    @property
    def s(self) -> Services:
        return CURRENT.get()


@dataclass(slots=True)
class Services:
    settings: Settings
    store: SqliteStore
    errors: ErrorMapper
    namespace: str = DEFAULT_NAMESPACE
    # One per server, shared by its namespaces (`metrics.py`); e.g. `partner_call(status)`.
    metrics: Metrics = field(default_factory=Metrics)
    group: GroupCommit = field(init=False)
    reads: Reads = field(init=False)
    worlds: Worlds = field(init=False)
    bitgo: BitgoSide = field(init=False)
    _background: list[object] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        # Stagings of one event-loop tick share a transaction (store/group.py).
        self.group = GroupCommit(self.store, busy_timeout_s=self.settings.busy_timeout_ms / 1000)
        self.reads = self.store
        self.worlds = SqliteWorlds(self.store)
        # The sandbox as BitGo toward this namespace's partners (its key is this namespace's,
        # unless `--bitgo-key` gives one for all).
        self.bitgo = BitgoSide(
            self.store,
            PartnerClient(self.settings.partner_timeout_s),
            new_id=ids.new_id,
            now=lambda: format_instant(self.now()),
            supplied_key_pem=_read_key(self.settings.bitgo_key),
        )

    def now(self) -> datetime:
        """Sandbox time; the clock's state lives in the database so every worker agrees."""
        return self.store.clock_state().now(utcnow())

    @staticmethod
    def new_id() -> str:
        return ids.new_id()

    def start_background(self) -> None:
        """This namespace's job loop (on the running event loop) and WAL checkpointer."""
        if self._background:
            return
        if not is_postgres_url(self.settings.db):  # PostgreSQL checkpoints on its own
            checkpointer = Checkpointer(self.store.path)
            checkpointer.start()
            self._background.append(checkpointer)
        if self.settings.run_jobs:
            self._background.append(asyncio.get_running_loop().create_task(_job_loop(self)))

    def stop_background(self) -> None:
        for item in self._background:
            if isinstance(item, Checkpointer):
                item.stop()
            elif isinstance(item, asyncio.Task):
                item.cancel()
        self._background.clear()

    def close(self) -> None:
        """Stop the background work and close the database (a namespace being dropped)."""
        self.stop_background()
        with contextlib.suppress(StoreUnavailable):  # the log is a debugging aid; close anyway
            self.store.flush_request_log()
        self.store.close()


def _read_key(path: str | None) -> str | None:
    if path is None:
        return None
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def open_store(
    settings: Settings, path: str | None = None, database: PgDatabase | None = None
) -> SqliteStore:
    """Open (and migrate) a database, the main one unless `path` names a namespace's (a file,
    or on PostgreSQL a schema of `database`); load the server's world into it if it is empty."""
    store: SqliteStore
    if is_postgres_url(settings.db):
        from oeskit.store.postgres import PostgresStore  # psycopg only when a URL names it

        store = PostgresStore.open(
            database or settings.db,
            path,
            busy_timeout_ms=settings.busy_timeout_ms,
            namespaces=settings.max_namespaces,
        )
    else:
        store = SqliteStore(path or settings.db, busy_timeout_ms=settings.busy_timeout_ms)
    if settings.world:
        world = load_world_file(settings.world)
        with store.immediate():  # only one worker process loads it
            if store.is_empty():
                load_world(store, world, utcnow(), settings.clock)
    return store


async def _job_loop(services: Services) -> None:
    """Finalize due settlements in the background; advancing the clock also runs them."""
    worker = f"pid-{os.getpid()}"
    where = f" in namespace {services.namespace}" if services.namespace else ""
    while True:
        try:
            services.metrics.jobs_run(
                lifecycle.run_due(services.store, services.now(), services.new_id, worker)
            )
            services.store.flush_request_log()
        except StoreUnavailable:
            pass  # locked by another worker, or a fault the store logged: try again next tick
        except Exception:  # keep the loop alive; the job stays queued and is retried
            log.exception("background job failed%s", where)
        await asyncio.sleep(services.settings.job_interval_s)


class NamespaceOpener:
    """Opens the namespaces of `http/namespaces.py` from their files beside the main database."""

    def __init__(
        self,
        settings: Settings,
        errors: ErrorMapper,
        metrics: Metrics,
        store: SqliteStore | None = None,
    ) -> None:
        self.settings = settings
        self.errors = errors
        self.metrics = metrics
        self.database: PgDatabase | None = None
        self.files: NamespaceFiles | PgNamespaces
        if store is not None and is_postgres_url(settings.db):
            # Namespaces are schemas beside the store's.
            from oeskit.store.postgres import PgNamespaces, PostgresStore

            assert isinstance(store, PostgresStore)
            self.database = store.database
            self.files = PgNamespaces(store.database, store.schema, settings.max_namespaces)
        else:
            self.files = NamespaceFiles(settings.db, settings.max_namespaces)
        self._world_tokens: frozenset[str] | None = None  # digests, read on first need

    def names(self) -> list[str]:
        return self.files.names()

    def identity(self, name: str) -> int | None:
        return self.files.identity(name)

    def may_create(self, token: str) -> bool:
        """The admin token, or a token of the world new namespaces start with."""
        if not token:
            return False
        if self.settings.admin_token and hmac.compare_digest(
            token.encode(), self.settings.admin_token.encode()
        ):
            return True
        if self._world_tokens is None:
            world = load_world_file(self.settings.world) if self.settings.world else {}
            self._world_tokens = frozenset(
                _digest(str(t["token"])) for t in world.get("tokens") or [] if t.get("token")
            )
        return _digest(token) in self._world_tokens

    def open(self, name: str) -> Services:
        existed = self.files.identity(name) is not None
        self.files.create(name)
        try:
            store = open_store(self.settings, self.files.path(name), self.database)
        except BaseException as exc:
            # A namespace that could not be made (a full disk, ...) must not keep its empty
            # file: it would count toward --max-namespaces and open as a world-less sandbox.
            if not existed:
                self.files.remove(name)
            translated = storage_error(exc)
            if translated is exc:
                raise
            raise translated from exc
        return Services(self.settings, store, self.errors, namespace=name, metrics=self.metrics)

    def remove(self, name: str) -> bool:
        return self.files.remove(name)


def _digest(token: str) -> str:
    # Compared as digests: a set lookup then reveals nothing about a token's prefix.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
