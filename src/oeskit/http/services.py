"""What handlers share: settings, the store, the error mapper, the clock and id source.

Wiring: with `app.py`, the only http module that imports `oeskit.store`. Handlers reach the
database through the ports typed here (`Reads`, `Worlds`) and the domain's `Store`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from oeskit import ids
from oeskit.clock import utcnow
from oeskit.domain.ports import Reads, Worlds
from oeskit.http.errors import ErrorMapper
from oeskit.settings import Settings
from oeskit.store.group import GroupCommit
from oeskit.store.sqlite import SqliteStore
from oeskit.store.world_loader import SqliteWorlds


@dataclass(slots=True)
class Services:
    settings: Settings
    store: SqliteStore
    errors: ErrorMapper
    group: GroupCommit = field(init=False)
    reads: Reads = field(init=False)
    worlds: Worlds = field(init=False)

    def __post_init__(self) -> None:
        # Stagings of one event-loop tick share a transaction (store/group.py).
        self.group = GroupCommit(self.store, busy_timeout_s=self.settings.busy_timeout_ms / 1000)
        self.reads = self.store
        self.worlds = SqliteWorlds(self.store)

    def now(self) -> datetime:
        """Sandbox time; the clock's state lives in the database so every worker agrees."""
        return self.store.clock_state().now(utcnow())

    @staticmethod
    def new_id() -> str:
        return ids.new_id()
