"""What only the PostgreSQL store has: a connection lost inside a staging answers 503 with
Retry-After and writes nothing; the schema is migrated once and a newer one is refused; the CLI
says in one line why a database cannot be used; the doctor reads a live schema."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import yaml
from click.testing import CliRunner

from oeskit.cli import main
from oeskit.cli.serve import _empty as empty
from oeskit.domain import staging
from oeskit.settings import Settings
from oeskit.store.group import GroupCommit
from oeskit.store.postgres import PgNamespaces, PostgresStore, SchemaTooNew
from oeskit.store.postgres.schema import MIGRATIONS
from oeskit.store.world_loader import load_world
from oeskit.testing.postgres import PostgresServer
from oeskit.testing.server import free_port
from tests.api.conftest import SETTLEMENTS, SandboxFactory
from tests.unit import domain_support

pytestmark = pytest.mark.anyio
STORES = ("postgresql",)  # this module is about PostgreSQL only


@pytest.fixture
def url(postgres_server: PostgresServer) -> str:
    return postgres_server.url(schema="t" + uuid.uuid4().hex[:12])


@pytest.fixture
def admin(postgres_server: PostgresServer) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(postgres_server.url(), autocommit=True) as conn:
        yield conn


async def test_a_connection_lost_inside_a_staging_is_503_and_writes_nothing(
    make_sandbox: SandboxFactory, admin: psycopg.Connection[tuple[object, ...]]
) -> None:
    """The database connection dies after the settlement and transfers rows were written but
    before the COMMIT: the answer is 503 OES-SRV-002 with Retry-After, no row of that staging
    is left, and the same request then stages on a fresh connection."""
    async with make_sandbox() as sb:
        assert isinstance(sb.store, PostgresStore)
        schema = sb.store.schema
        admin.execute(
            f'CREATE FUNCTION "{schema}".die() RETURNS trigger LANGUAGE plpgsql AS '
            "$$ BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END $$"
        )
        admin.execute(
            f'CREATE TRIGGER die BEFORE INSERT ON "{schema}".holds '
            f'FOR EACH ROW EXECUTE FUNCTION "{schema}".die()'
        )
        body = sb.sign(sb.fields(externalId="lost-connection"))
        before = sb.snapshot()
        response = await sb.stage(body)
        assert response.status_code == 503, response.text
        assert response.json()["rule"] == "OES-SRV-002"
        assert int(response.headers["retry-after"]) >= 1
        admin.execute(f'DROP TRIGGER die ON "{schema}".holds')
        assert sb.snapshot() == before
        retried = await sb.stage(body)
        assert retried.status_code == 200, retried.text
        listed = await sb.get(SETTLEMENTS, externalIds="lost-connection")
        assert [s["externalId"] for s in listed.json()["settlements"]] == ["lost-connection"]


async def test_a_killed_connection_between_requests_is_replaced(
    make_sandbox: SandboxFactory, admin: psycopg.Connection[tuple[object, ...]]
) -> None:
    """A server restart or an idle-connection reaper kills the store's connection while no
    request uses it: the next request takes a fresh one and answers as usual."""
    async with make_sandbox() as sb:
        assert isinstance(sb.store, PostgresStore)
        pid = sb.store.pg.raw.info.backend_pid
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        response = await sb.stage(sb.sign(sb.fields()))
        assert response.status_code == 200, response.text
        assert sb.store.pg.raw.info.backend_pid != pid


def test_two_stores_starting_together_migrate_once(url: str) -> None:
    """The second store on a schema finds it migrated (the advisory lock serialises them)."""
    first = PostgresStore.open(url)
    second = PostgresStore.open(url)
    try:
        versions = second.conn.execute("SELECT version FROM migrations").fetchall()
        assert [v[0] for v in versions] == list(range(1, len(MIGRATIONS) + 1))
    finally:
        first.close()
        second.close()


def test_a_schema_newer_than_the_code_is_refused(
    url: str, admin: psycopg.Connection[tuple[object, ...]]
) -> None:
    """A schema a newer oeskit migrated is not touched: the store refuses to open, and the
    CLI says so in one line, without a traceback."""
    PostgresStore.open(url).close()
    schema = url.rsplit("=", 1)[1]
    admin.execute(f'INSERT INTO "{schema}".migrations (version) VALUES (99)')
    with pytest.raises(SchemaTooNew, match="version 99, newer than this oeskit knows"):
        PostgresStore.open(url)
    result = CliRunner().invoke(main, ["world", "load", "demo", "--db", url])
    assert result.exit_code == 1
    assert "newer than this oeskit knows" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("unreachable", "cannot reach the PostgreSQL server at postgresql://oeskit@127.0.0.1:"),
        ("unknown-role", "refused the credentials"),
        ("unknown-database", "has no such database or role"),
    ],
)
@pytest.mark.parametrize("command", ["serve", "doctor", "world-load"])
def test_a_database_that_cannot_be_used_is_one_line(
    postgres_server: PostgresServer, tmp_path: Path, target: str, message: str, command: str
) -> None:
    """serve, doctor and world load name the database (never its password) and the reason,
    and exit 1 without a traceback."""
    port = free_port() if target == "unreachable" else postgres_server.port
    user = "nobody" if target == "unknown-role" else "oeskit"
    database = "nowhere" if target == "unknown-database" else "oeskit"
    db = f"postgresql://{user}:secret-pw@127.0.0.1:{port}/{database}"
    argv = {
        "serve": ["serve", "--db", db, "--port", str(free_port())],
        "doctor": ["doctor", "--db", db],
        "world-load": ["world", "load", "demo", "--db", db],
    }[command]
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 1, result.output
    if target == "unknown-role":  # trust authentication: an unknown role is the refusal
        message = "has no such database or role"
    assert message in result.output
    assert "secret-pw" not in result.output
    assert "Traceback" not in result.output


async def test_doctor_checks_a_live_schema(make_sandbox: SandboxFactory) -> None:
    """`oeskit doctor --db postgresql://...` reads the schema a server is using and finds it
    sound after stagings; a corrupted hold is reported and exits 1."""
    async with make_sandbox() as sb:
        assert isinstance(sb.store, PostgresStore)
        for _ in range(3):
            assert (await sb.stage(sb.sign(sb.fields()))).status_code == 200
        url = sb.store.url
        ok = CliRunner().invoke(main, ["doctor", "--db", url])
        assert ok.exit_code == 0, ok.output
        assert ok.output.startswith("ok: 4 settlements")
        sb.store.conn.execute("UPDATE holds SET amount = '1' WHERE amount <> '1'")
        bad = CliRunner().invoke(main, ["doctor", "--db", url])
        assert bad.exit_code == 1
        assert "violation(s)" in bad.output


async def test_every_namespace_up_to_the_limit_gets_a_connection(
    make_sandbox: SandboxFactory,
) -> None:
    """Each open namespace keeps a connection of the replica's pool: the pool is sized by
    --max-namespaces, so the last namespace allowed answers like the first."""
    async with make_sandbox(max_namespaces=12) as sb:
        for n in range(12):
            response = await sb.client.get(
                f"/ns/n{n}" + SETTLEMENTS, headers={"Authorization": "Bearer demo-exchange-token"}
            )
            assert response.status_code == 200, (n, response.text)
        listed = await sb.admin("GET", "/namespaces")
        assert len(listed.json()["namespaces"]) == 12


async def test_a_staging_that_loses_the_unique_race_answers_the_winner(url: str) -> None:
    """Another replica staged the same externalId and has not committed when this one inserts
    it (here: a writer that skipped the gate): the insert waits, fails on the unique
    constraint once the other commits, and the unit runs again and answers a replay of the
    winner's settlement. One row."""
    first, second = PostgresStore.open(url), PostgresStore.open(url)
    try:
        world = domain_support.validate_world(
            yaml.safe_load(domain_support.DEMO.read_text()) | {"settlements": [], "disputes": []}
        )
        load_world(first, world, domain_support.NOW)
        body = domain_support.body({domain_support.ALPHA: {"BTC": "-10"}}, externalId="race")

        def stage(store: PostgresStore) -> staging.Staged:
            partner = domain_support.exchange(store)
            ids = domain_support.id_source()
            return staging.stage(
                store, partner, domain_support.CALLER, body, domain_support.NOW, lambda: next(ids)
            )

        second.pg.begin()  # no gate: the race the constraint is there for
        winner = stage(second)
        threading.Timer(0.3, second.commit).start()
        group = GroupCommit(first, busy_timeout_s=5)
        loser = await group.run(lambda: stage(first))
        assert (loser.settlement_id, loser.replay) == (winner.settlement_id, True)
        count = first.conn.execute(
            "SELECT count(*) FROM settlements WHERE external_id = 'race'"
        ).fetchone()
        assert count[0] == 1
    finally:
        first.close()
        second.close()


def test_a_hung_replica_cannot_hold_the_writer_gate_for_ever(url: str) -> None:
    """The store's sessions end a transaction left idle for 30 s (the gate goes with it), and
    wait at most the busy timeout for a lock."""
    store = PostgresStore.open(url, busy_timeout_ms=1234)
    try:
        show = store.conn.execute
        assert show("SHOW idle_in_transaction_session_timeout").fetchone()[0] == "30s"
        assert show("SHOW lock_timeout").fetchone()[0] == "1234ms"
    finally:
        store.close()


async def test_serve_fresh_empties_the_schema_and_drops_its_namespaces(
    make_sandbox: SandboxFactory,
) -> None:
    """`oeskit serve --fresh` on a PostgreSQL URL: the state is emptied (the world is loaded
    again at start) and every namespace schema is dropped."""
    async with make_sandbox() as sb:
        assert isinstance(sb.store, PostgresStore)
        assert (await sb.stage(sb.sign(sb.fields()))).status_code == 200
        opened = await sb.client.get(
            "/ns/kept" + SETTLEMENTS, headers={"Authorization": "Bearer demo-exchange-token"}
        )
        assert opened.status_code == 200
        namespaces = PgNamespaces(sb.store.database, sb.store.schema, 10)
        assert namespaces.names() == ["kept"]
        empty(Settings(db=sb.store.url))
        assert namespaces.names() == []
        assert sb.store.conn.execute("SELECT count(*) FROM settlements").fetchone()[0] == 0
