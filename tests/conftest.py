"""Shared fixtures: a sandbox app over a real SQLite file or a real PostgreSQL server (the
`store_backend` parameter), an HTTP client bound to it in-process, signing helpers for the demo
world, and a real `oeskit serve` process for black-box tests."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpcore  # noqa: F401 - see below
import httpx
import psycopg
import pytest
import yaml

from oeskit import fixtures, signing
from oeskit.http.app import create_app, open_store
from oeskit.settings import Settings
from oeskit.store.postgres import PostgresStore
from oeskit.store.schema import STATE_TABLES
from oeskit.store.sqlite import SqliteStore
from oeskit.testing.postgres import (
    PostgresMissing,
    PostgresServer,
    find_bindir,
    start_postgres,
)
from oeskit.testing.server import Server, start_serve

# httpx imports httpcore on its first request and keeps a map from httpcore's exception classes
# to its own. pytester drops the modules a test imported when it ends; if that first request
# fell inside such a test, httpcore was imported again later and the map no longer matched its
# classes, so a refused connection escaped as a raw httpcore error (`wait_ready` polling a server
# still starting then failed). httpcore is imported above, before any test, for that reason.
# pytester runs partner test files against the oeskit pytest plugin (tests/kit); progress and
# scheduling are this suite's own small plugins (`make test` runs it under pytest-xdist).
pytest_plugins = ["pytester", "tests.progress", "tests.scheduling"]

ROOT = Path(__file__).resolve().parents[1]
DEMO = fixtures.world_path("demo")
ADMIN = "test-admin-token"
EXCHANGE = "5a1f7f0e-0c1d-4f7e-9a0b-7d0d6b1e0001"
ALPHA = "09684b38-49ed-4cf6-a28e-c3a459494c69"
BETA = "136c1c69-8654-484f-8c5f-591b334a084f"
STAGE = "/api/network/v2/enterprises/{enterprise}/partners/settlements"
# Tables whose content is the sandbox's business state (the request log and clock are not).
BUSINESS_TABLES = tuple(t for t in STATE_TABLES if t not in ("request_log", "meta"))


STORES = ("sqlite", "postgresql")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--store",
        choices=(*STORES, "both"),
        default="both",
        help="the store(s) the store-parametrised tests run on (default: both)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests (and fixtures) asking for `store_backend` run once per selected store."""
    if "store_backend" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("--store")
        stores = STORES if chosen == "both" else (chosen,)
        # A module about one store names it: `STORES = ("postgresql",)`.
        only = getattr(metafunc.module, "STORES", None)
        if only is not None:
            stores = tuple(s for s in stores if s in only)
        metafunc.parametrize("store_backend", stores, indirect=True, scope="module")


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Say it when the PostgreSQL half could not run here (a developer without the server)."""
    if config.getoption("--store") != "sqlite" and find_bindir() is None:
        terminalreporter.write_line(
            "PostgreSQL half skipped: no server binaries (initdb, pg_ctl); install Debian's "
            "`postgresql` package to run the store tests on PostgreSQL too",
            yellow=True,
        )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL server per test session (so per xdist worker), in a temporary
    directory. Without the server binaries a developer's run skips the PostgreSQL half and says
    why; CI (CI=true) fails instead."""
    try:
        server = start_postgres()
    except PostgresMissing as exc:
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(f"CI must run the PostgreSQL tests: {exc}")
        pytest.skip(f"PostgreSQL half skipped: {exc}")
    yield server
    server.stop()


@dataclass(frozen=True)
class StoreBackend:
    """Where a test's database lives: a SQLite file, or a fresh schema on the session's
    PostgreSQL server."""

    kind: str
    server: PostgresServer | None = None

    def db(self, directory: Path) -> str:
        if self.server is None:
            return str(directory / "sandbox.db")
        return self.server.url(schema="t" + uuid.uuid4().hex[:12])

    def __str__(self) -> str:
        return self.kind


@pytest.fixture(scope="module")
def store_backend(request: pytest.FixtureRequest) -> StoreBackend:
    kind = str(request.param)
    if kind == "postgresql":
        return StoreBackend(kind, request.getfixturevalue("postgres_server"))
    return StoreBackend(kind)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def demo_world() -> dict[str, Any]:
    return yaml.safe_load(DEMO.read_text())


def partner_key(
    world: Mapping[str, Any], partner_id: str, scheme: str = "ed25519"
) -> signing.SigningKey:
    partner = next(p for p in world["partners"] if p["id"] == partner_id)
    entry = next(
        k
        for k in partner["signingKeys"]
        if isinstance(k, dict) and k.get("scheme", "ed25519") == scheme and k.get("privateKey")
    )
    return signing.SigningKey(scheme, entry["publicKey"], entry["privateKey"])


@dataclass
class Sandbox:
    """An in-process sandbox: the app, a client bound to it, and its store."""

    client: httpx.AsyncClient
    store: SqliteStore
    world: dict[str, Any]
    counter: list[int] = field(default_factory=lambda: [0])

    def fields(self, amounts: Mapping[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
        self.counter[0] += 1
        base: dict[str, Any] = {
            "externalId": f"test-{self.counter[0]}",
            "settlementAmounts": dict(amounts)
            if amounts is not None
            else {ALPHA: {"BTC": "-1000", "ETH": "2000"}},
            "nonce": signing.new_nonce(),
            "cutoffAt": "2026-11-01T00:00:00.000Z",
        }
        base.update(overrides)
        return {k: v for k, v in base.items() if v is not None}

    def sign(
        self, fields: Mapping[str, Any], partner_id: str = EXCHANGE, scheme: str = "ed25519"
    ) -> dict[str, Any]:
        return signing.sign_body(fields, partner_key(self.world, partner_id, scheme))

    async def stage(
        self,
        body: Mapping[str, Any],
        token: str = "demo-exchange-token",
        enterprise: str = "ent-exchange",
    ) -> httpx.Response:
        return await self.client.post(
            STAGE.format(enterprise=enterprise),
            json=dict(body),
            headers={"Authorization": f"Bearer {token}"},
        )

    async def get(
        self, path: str, token: str = "demo-exchange-token", **params: Any
    ) -> httpx.Response:
        return await self.client.get(
            path, params=params, headers={"Authorization": f"Bearer {token}"}
        )

    async def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.request(
            method, "/sandbox" + path, headers={"Authorization": f"Bearer {ADMIN}"}, **kwargs
        )

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every business row, to prove a rejected request changed nothing."""
        return {
            table: sorted(tuple(row) for row in self.store.conn.execute(f"SELECT * FROM {table}"))
            for table in BUSINESS_TABLES
        }


@contextlib.contextmanager
def write_lock_held(store: SqliteStore) -> Iterator[None]:
    """Another connection holds the database's write lock for the block: SQLite's file lock,
    or the PostgreSQL store's writer gate (an advisory lock)."""
    if isinstance(store, PostgresStore):
        with psycopg.connect(store.database.url.conninfo, autocommit=True) as other:
            other.execute("SELECT pg_advisory_lock(%s, %s)", store.gate)
            yield
        return
    other = sqlite3.connect(store.path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "db": str(tmp_path / "sandbox.db"),
        "world": str(DEMO),
        "admin_token": ADMIN,
        "validate_responses": True,
        "run_jobs": False,
        "clock": "frozen",
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
async def sandbox(
    tmp_path: Path, demo_world: dict[str, Any], store_backend: StoreBackend
) -> AsyncIterator[Sandbox]:
    settings = make_settings(tmp_path, db=store_backend.db(tmp_path))
    store = open_store(settings)
    app = create_app(settings, store)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test") as client:
        yield Sandbox(client, store, demo_world)
    store.close()


@dataclass
class LiveServer(Server):
    """A started `oeskit serve` (oeskit.testing.server) and the database it serves."""

    db: Path = Path()
    admin_token: str = ADMIN


def start_server(
    tmp_path: Path, *, workers: int = 1, extra: tuple[str, ...] = (), db: Path | None = None
) -> LiveServer:
    """`oeskit serve` on the demo world in a process of its own, ready."""
    db = db or tmp_path / "live.db"
    server = start_serve(tmp_path, db, workers=workers, admin=ADMIN, extra=extra, timeout=30)
    return LiveServer(
        server.name,
        server.process,
        server.base_url,
        server.log_path,
        server.ready_ms,
        server.headers,
        db=db,
    )


def stop_server(server: LiveServer) -> None:
    server.stop(timeout=10)


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = start_server(tmp_path)
    yield server
    stop_server(server)
