"""What handlers share: settings, the store, the error mapper, the clock and id source."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from oeskit.clock import utcnow
from oeskit.http.errors import ErrorMapper
from oeskit.settings import Settings
from oeskit.store.sqlite import SqliteStore


@dataclass(slots=True)
class Services:
    settings: Settings
    store: SqliteStore
    errors: ErrorMapper

    def now(self) -> datetime:
        """Sandbox time; the clock's state lives in the database so every worker agrees."""
        return self.store.clock_state().now(utcnow())

    @staticmethod
    def new_id() -> str:
        return str(uuid.uuid4())
