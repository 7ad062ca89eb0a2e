"""Fixtures of the reliability tests: a module's in-process sandbox shared by its tests, the
demo world loaded afresh before each one (building an app parses the contract and the world:
about 0.1 s of CPU, more than most of these tests' own work)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from oeskit.clock import utcnow
from oeskit.http.app import create_app, open_store
from oeskit.settings import Settings
from oeskit.store import world_loader
from oeskit.store.sqlite import SqliteStore
from oeskit.worlds import load_world_file
from tests.conftest import DEMO, Sandbox, StoreBackend, make_settings


@pytest.fixture(scope="module")
def module_app(
    tmp_path_factory: pytest.TempPathFactory, store_backend: StoreBackend
) -> Iterator[tuple[Settings, SqliteStore, Any, dict[str, Any]]]:
    """One app per module and store, and the validated demo world its tests reload."""
    directory = tmp_path_factory.mktemp("module-app")
    settings = make_settings(directory, db=store_backend.db(directory))
    store = open_store(settings)
    yield settings, store, create_app(settings, store), load_world_file(DEMO)
    store.close()


@pytest.fixture
async def shared_sandbox(
    module_app: tuple[Settings, SqliteStore, Any, dict[str, Any]], demo_world: dict[str, Any]
) -> AsyncIterator[Sandbox]:
    """Like tests/conftest.py's `sandbox` (demo world, frozen clock, responses validated, no
    background jobs), on the module's app: every state table is emptied and the demo world
    loaded again, so a test sees the state a new sandbox starts with."""
    settings, store, app, world = module_app
    store.flush_request_log()  # a previous test's buffered log rows land before the reset
    world_loader.load_world(store, world, utcnow(), settings.clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test") as client:
        yield Sandbox(client, store, demo_world)
