"""A real store holding the demo world (SQLite in memory, or a fresh schema on the session's
PostgreSQL server: the `domain_stores` fixture says which), and request bodies, for the domain's
unit tests: the rules run against the Store port directly, no HTTP, no signing."""

from __future__ import annotations

import copy
import functools
import itertools
import uuid
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from oeskit.domain import staging
from oeskit.domain.model import READ_SCOPE, WRITE_SCOPE, Caller, Partner
from oeskit.store.postgres import PostgresStore
from oeskit.store.sqlite import SqliteStore
from oeskit.store.world_loader import load_world
from oeskit.worlds import validate_world
from tests.conftest import ALPHA, BETA, DEMO, EXCHANGE, StoreBackend

__all__ = ["ALPHA", "BETA", "EXCHANGE"]

GAMMA = "e9620856-689e-4a43-9e7e-5a9e3483729b"  # a connection of the exchange in no test body
CLOSED_DISPUTE = "af1ef7a9-59d0-4a1c-8468-353f09a9798c"  # demo: approved, not yet carried
CLOSURE = "30adfe14-c201-4427-9c89-e89cb1f8f73c"
NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
T1 = NOW + timedelta(minutes=60)  # the exchange's dispute window
T2 = T1 + timedelta(minutes=30)  # ... and its top-up window
CALLER = Caller("user-exchange-ops", frozenset({READ_SCOPE, WRITE_SCOPE}))
ALPHA_BTC = 500_000_000  # the demo's allocations used below
BETA_BTC = 200_000_000


@dataclass
class DomainStores:
    """The store a domain test runs on, and the stores it opened (closed after the test)."""

    backend: StoreBackend
    opened: list[SqliteStore] = field(default_factory=list)

    def close(self) -> None:
        for store in self.opened:
            store.close()


# Set by the `domain_stores` fixture (tests/unit/conftest.py) for each test.
CURRENT: ContextVar[DomainStores] = ContextVar("domain_stores")


@functools.cache
def _demo_world(history: bool) -> dict[str, Any]:
    """The validated demo world, read once per process (parsing and validating it is ~30 ms,
    more than most domain tests); `demo_store` loads a copy."""
    world: dict[str, Any] = yaml.safe_load(DEMO.read_text())
    if not history:
        world["settlements"], world["disputes"] = [], []
    return validate_world(world)


def demo_store(*, history: bool = False) -> SqliteStore:
    """The demo world on the test's store; without `history`, no settlement and no closed
    dispute."""
    world = copy.deepcopy(_demo_world(history))
    stores = CURRENT.get(None)
    store: SqliteStore
    if stores is None or stores.backend.server is None:
        store = SqliteStore(":memory:")
    else:
        store = PostgresStore.open(stores.backend.db(Path()))
        stores.opened.append(store)
    load_world(store, world, NOW)
    return store


def exchange(store: SqliteStore) -> Partner:
    partner = store.partner(EXCHANGE)
    assert partner is not None
    return partner


def id_source() -> Iterator[str]:
    return (str(uuid.UUID(int=n)) for n in itertools.count(1))


def body(amounts: Mapping[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
    """A staging body as the schema passes it; the signature is not the domain's concern here."""
    out: dict[str, Any] = {
        "externalId": "ext-1",
        "settlementAmounts": dict(amounts)
        if amounts is not None
        else {ALPHA: {"BTC": "-1000", "ETH": "2000"}, BETA: {"USDC": "-5"}},
        "nonce": "nonce-1",
        "cutoffAt": "2026-11-20T23:59:59Z",
        "payload": "{}",
        "signature": "signature",
    }
    out.update(overrides)
    return out


def stage(store: SqliteStore, fields: Mapping[str, Any], now: datetime = NOW) -> staging.Staged:
    ids = id_source()
    return staging.stage(store, exchange(store), CALLER, fields, now, lambda: next(ids))
