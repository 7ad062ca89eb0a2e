"""Namespaces (`/ns/{name}/`): each name is a sandbox of its own, created on first use, listed and
deleted from the default namespace, bounded by `--max-namespaces`; bad names and one namespace
too many are refused with a rule and create nothing.

In-process: one app, several httpx clients, each bound to one namespace's base URL (the way a
partner points a client at `http://host:8080/ns/run-42`). The black-box tests with a real
server, its job loops and parallel conform runs are in tests/reliability/test_namespaces_live.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from oeskit.http.app import create_app, open_store
from oeskit.store.postgres import PgNamespaces, PostgresStore
from oeskit.store.postgres.connection import namespace_schema
from tests.api.conftest import SETTLEMENTS
from tests.conftest import ADMIN, EXCHANGE, Sandbox, StoreBackend, make_settings

pytestmark = pytest.mark.anyio

Open = Callable[[str], Sandbox]
Server = Callable[..., AbstractAsyncContextManager[tuple[Any, Open]]]


@pytest.fixture
def server(tmp_path: Path, demo_world: dict[str, Any], store_backend: StoreBackend) -> Server:
    """An app over a real SQLite file (or PostgreSQL schema), and `open(prefix)`: a Sandbox
    whose client is bound to that prefix ('' is the default namespace, '/ns/a' namespace a).
    Each start is on the same database."""
    db = store_backend.db(tmp_path)

    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[tuple[Any, Open]]:
        settings = make_settings(tmp_path, db=db, **overrides)
        store = open_store(settings)
        app = create_app(settings, store)
        transport = httpx.ASGITransport(app=app)
        clients: list[httpx.AsyncClient] = []

        def open_(prefix: str) -> Sandbox:
            client = httpx.AsyncClient(transport=transport, base_url="http://t" + prefix)
            clients.append(client)
            return Sandbox(client, store, demo_world)

        folder: Path | PgNamespaces = tmp_path / "sandbox.db.namespaces"
        if isinstance(store, PostgresStore):
            folder = PgNamespaces(store.database, store.schema, settings.max_namespaces)
        try:
            yield folder, open_
        finally:
            for client in clients:
                await client.aclose()
            app.close()
            store.close()

    return start


def stored(folder: Path | PgNamespaces) -> list[str]:
    """The namespaces kept on the store: SQLite files in the folder, or PostgreSQL schemas."""
    if isinstance(folder, PgNamespaces):
        return folder.names()
    return sorted(p.stem for p in folder.glob("*.db")) if folder.exists() else []


async def _stage(sb: Sandbox, **fields: Any) -> str:
    response = await sb.stage(sb.sign(sb.fields(**fields)))
    assert response.status_code == 200, response.text
    return str(response.json()["settlement"]["id"])


async def _refused(sb: Sandbox) -> str:
    """The rule of a refused settlement list (the caller has no partner in this state)."""
    response = await sb.get(SETTLEMENTS)
    assert response.status_code == 401, response.text
    return str(response.json()["rule"])


async def _ids(sb: Sandbox) -> list[str]:
    response = await sb.get(SETTLEMENTS)
    assert response.status_code == 200, response.text
    return [s["id"] for s in response.json()["settlements"]]


async def test_a_namespace_starts_with_the_servers_world_and_keeps_its_state(
    server: Server,
) -> None:
    """The first request under /ns/a creates it with the demo world (its tokens and keys work);
    a settlement staged there is read there, and in no other namespace."""
    async with server() as (folder, open_):
        default, a, b = open_(""), open_("/ns/a"), open_("/ns/b")
        before_default, before_b = await _ids(default), await _ids(b)
        staged = await _stage(a, externalId="only-in-a")
        assert staged in await _ids(a)
        assert await _ids(default) == before_default
        assert await _ids(b) == before_b
        one = f"{SETTLEMENTS}/{staged}"
        assert (await a.get(one)).json()["settlement"]["externalId"] == "only-in-a"
        for other in (default, b):
            missing = await other.get(one)
            assert missing.status_code == 404
            assert missing.json()["rule"].startswith("OES-")
        assert stored(folder) == ["a", "b"]


async def test_the_same_external_id_is_new_in_each_namespace(server: Server) -> None:
    """Idempotency is per namespace: one externalId stages a fresh settlement in each."""
    async with server() as (_, open_):
        a, b = open_("/ns/a"), open_("/ns/b")
        fields = a.fields(externalId="shared-id")
        first = await a.stage(a.sign(fields))
        other = await b.stage(b.sign({**fields, "nonce": "another-nonce-0001"}))
        assert first.status_code == other.status_code == 200
        assert first.json()["settlement"]["id"] != other.json()["settlement"]["id"]


async def test_the_clock_is_per_namespace(server: Server) -> None:
    """Advancing the clock in one namespace moves neither the default's nor another's."""
    async with server() as (_, open_):
        default, a, b = open_(""), open_("/ns/a"), open_("/ns/b")

        async def now(sb: Sandbox) -> str:
            return str((await sb.admin("GET", "/clock")).json()["now"])

        before_default, before_a, before_b = await now(default), await now(a), await now(b)
        moved = await a.admin("POST", "/clock", json={"advanceMinutes": 600})
        assert moved.status_code == 200, moved.text
        assert moved.json()["clock"]["now"] != before_a
        assert await now(a) == moved.json()["clock"]["now"]
        assert await now(default) == before_default
        assert await now(b) == before_b


async def test_the_request_log_is_per_namespace(server: Server) -> None:
    """A namespace's request log holds its own requests only (with paths inside it)."""
    async with server() as (_, open_):
        default, a, b = open_(""), open_("/ns/a"), open_("/ns/b")
        await _stage(a, externalId="logged-in-a")
        await b.get(SETTLEMENTS)

        async def logged(sb: Sandbox) -> list[tuple[str, str]]:
            response = await sb.admin("GET", "/requests", params={"limit": 1000})
            assert response.status_code == 200, response.text
            return [(r["method"], r["path"]) for r in response.json()["requests"]]

        in_a, in_b, in_default = await logged(a), await logged(b), await logged(default)
        staging = ("POST", "/api/network/v2/enterprises/ent-exchange/partners/settlements")
        assert staging in in_a
        assert staging not in in_b and staging not in in_default
        assert ("GET", SETTLEMENTS) in in_b
        assert ("GET", SETTLEMENTS) not in in_a and ("GET", SETTLEMENTS) not in in_default
        assert not any(path.startswith("/ns/") for _, path in in_a + in_b + in_default)


async def test_faults_are_per_namespace(server: Server) -> None:
    """A busy fault armed in one namespace answers 503 there and nowhere else."""
    async with server() as (_, open_):
        a, b = open_("/ns/a"), open_("/ns/b")
        armed = await a.admin("POST", "/faults", json={"kind": "busy", "count": 1})
        assert armed.status_code in (200, 201), armed.text
        assert (await b.admin("GET", "/faults")).json() == {"faults": []}
        fine = await b.stage(b.sign(b.fields()))
        assert fine.status_code == 200, fine.text
        busy = await a.stage(a.sign(a.fields()))
        assert busy.status_code == 503
        assert busy.json()["rule"] == "OES-SRV-002"


async def test_a_reset_in_one_namespace_leaves_the_others_untouched(server: Server) -> None:
    """POST /sandbox/reset under /ns/a empties a; b and the default keep their settlements."""
    async with server() as (_, open_):
        default, a, b = open_(""), open_("/ns/a"), open_("/ns/b")
        kept_b, kept_default = await _stage(b), await _stage(default)
        await _stage(a)
        b_before, default_before = await _ids(b), await _ids(default)
        reset = await a.admin("POST", "/reset")
        assert reset.json() == {"status": "reset"}
        # An empty namespace has no partner left: the token no longer names a caller.
        assert await _refused(a) == "OES-AUTH-001"
        assert await _ids(b) == b_before and kept_b in b_before
        assert await _ids(default) == default_before and kept_default in default_before


async def test_a_world_loaded_in_one_namespace_stays_there(server: Server) -> None:
    """POST /sandbox/world in a namespace replaces that namespace's state only."""
    async with server() as (_, open_):
        a, b = open_("/ns/a"), open_("/ns/b")
        world = {"enterprises": [], "users": [], "partners": []}
        loaded = await a.admin("POST", "/world", json=world)
        assert loaded.status_code == 200, loaded.text
        assert await _refused(a) == "OES-AUTH-001"
        assert len(await _ids(b)) >= 1


@pytest.mark.parametrize(
    "name",
    ["UPPER", "under_score", "dot.ted", "a" * 41, "sp%20ace", "%C3%A9t%C3%A9", ""],
    ids=["upper", "underscore", "dot", "41-chars", "space", "non-ascii", "empty"],
)
async def test_a_bad_name_is_refused_and_creates_nothing(server: Server, name: str) -> None:
    """A name outside [a-z0-9-]{1,40}: 400 OES-SBX-006 naming the rule for names; no file."""
    async with server() as (folder, open_):
        default = open_("")
        response = await default.client.get(
            f"/ns/{name}/sandbox/clock", headers={"Authorization": f"Bearer {ADMIN}"}
        )
        assert response.status_code == 400
        assert response.json()["rule"] == "OES-SBX-006"
        assert "1 to 40 of a-z, 0-9 and '-'" in response.json()["error"]
        listed = await default.admin("GET", "/namespaces")
        assert listed.json()["namespaces"] == []
        assert stored(folder) == []


async def test_a_forty_character_name_is_accepted(server: Server) -> None:
    async with server() as (_, open_):
        long = open_("/ns/" + "a-9" * 13 + "z")
        clock = await long.admin("GET", "/clock")
        assert clock.status_code == 200, clock.text
        assert clock.json()["mode"] == "frozen"


async def test_past_the_limit_a_new_namespace_is_refused_until_one_is_deleted(
    server: Server,
) -> None:
    """With --max-namespaces 2 the third is 409 OES-SBX-007 (existing ones keep working);
    deleting one makes room."""
    async with server(max_namespaces=2) as (folder, open_):
        default, a, b, c = open_(""), open_("/ns/a"), open_("/ns/b"), open_("/ns/c")
        await _stage(a)
        await _stage(b)
        refused = await c.get(SETTLEMENTS)
        assert refused.status_code == 409
        body = refused.json()
        assert body["rule"] == "OES-SBX-007"
        assert "limit of 2 namespaces" in body["error"]
        assert "--max-namespaces" in body["error"]
        assert "c" not in stored(folder)
        assert (await a.get(SETTLEMENTS)).status_code == 200
        listed = await default.admin("GET", "/namespaces")
        assert listed.json() == {"namespaces": [{"name": "a"}, {"name": "b"}], "limit": 2}
        deleted = await default.admin("DELETE", "/namespaces/a")
        assert deleted.json() == {"deleted": "a"}
        assert (await c.get(SETTLEMENTS)).status_code == 200


async def test_zero_turns_namespaces_off(server: Server) -> None:
    async with server(max_namespaces=0) as (_, open_):
        refused = await open_("/ns/a").get(SETTLEMENTS)
        assert refused.status_code == 409
        assert refused.json()["rule"] == "OES-SBX-007"
        assert (await open_("").get(SETTLEMENTS)).status_code == 200


async def test_a_deleted_namespace_comes_back_fresh(server: Server) -> None:
    """DELETE /sandbox/namespaces/a removes its file; the next use starts from the world."""
    async with server() as (folder, open_):
        default, a = open_(""), open_("/ns/a")
        staged = await _stage(a)
        deleted = await default.admin("DELETE", "/namespaces/a")
        assert deleted.status_code == 200
        assert deleted.json() == {"deleted": "a"}
        assert "a" not in stored(folder)
        assert (await default.admin("GET", "/namespaces")).json()["namespaces"] == []
        assert staged not in await _ids(a)
        assert "a" in stored(folder)


async def test_deleting_an_unknown_namespace_is_404(server: Server) -> None:
    async with server() as (_, open_):
        response = await open_("").admin("DELETE", "/namespaces/nobody")
        assert response.status_code == 404
        assert response.json() == {
            "error": "there is no namespace 'nobody'",
            "rule": "OES-SBX-003",
        }


async def test_namespaces_are_managed_from_the_default_one_only(server: Server) -> None:
    """Under /ns/a, listing and deleting answer 404: a namespace learns nothing of others."""
    async with server() as (_, open_):
        a, b = open_("/ns/a"), open_("/ns/b")
        await _stage(b)
        for method, path in (("GET", "/namespaces"), ("DELETE", "/namespaces/b")):
            response = await a.admin(method, path)
            assert response.status_code == 404, (method, path)
            assert response.json()["rule"] == "OES-SBX-003"
            assert "default namespace" in response.json()["error"]
        assert len(await _ids(b)) >= 1


async def test_a_restarted_server_finds_its_namespaces(server: Server, tmp_path: Path) -> None:
    """Namespaces are files: a new app on the same database lists and serves them."""
    async with server() as (_, open_):
        staged = await _stage(open_("/ns/kept"))
    async with server() as (_, open_):
        listed = await open_("").admin("GET", "/namespaces")
        assert listed.json()["namespaces"] == [{"name": "kept"}]
        assert staged in await _ids(open_("/ns/kept"))


async def test_the_unprefixed_paths_are_the_default_namespace(server: Server) -> None:
    """The default namespace is not a file in the folder and is never listed."""
    async with server() as (folder, open_):
        default = open_("")
        await _stage(default)
        assert (await default.admin("GET", "/namespaces")).json()["namespaces"] == []
        assert stored(folder) == []


async def test_pages_and_spec_files_are_served_in_a_namespace(server: Server) -> None:
    """The spec files and the landing page answer under the prefix too."""
    async with server() as (_, open_):
        a = open_("/ns/a")
        await _stage(a)  # created by a credentialed request; the rest need none
        assert (await a.client.get("/openapi.json")).json()["openapi"] == "3.0.3"
        assert (await a.client.get("/sandbox/openapi.json")).json()["openapi"] == "3.0.3"
        assert (await a.client.get("/")).status_code == 200
        unknown = await a.client.get("/no/such/route")
        assert unknown.status_code == 404
        assert unknown.json()["rule"] == "OES-REQ-004"


async def test_the_partner_in_a_namespace_is_the_worlds(server: Server) -> None:
    """A staged settlement in a namespace belongs to the world's partner, as in the default."""
    async with server() as (_, open_):
        a = open_("/ns/a")
        response = await a.stage(a.sign(a.fields()))
        assert response.json()["settlement"]["partnerId"] == EXCHANGE


async def test_a_damaged_namespace_file_is_a_logged_500_and_harms_no_other(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    """A file that is not a database: that namespace answers 500 OES-SRV-001 naming the request
    id it was logged under; the default namespace and the others go on."""
    async with server() as (folder, open_):
        default, a = open_(""), open_("/ns/a")
        await _stage(a)
        if isinstance(a.store, PostgresStore):  # a schema migrated by a newer oeskit
            with psycopg.connect(a.store.database.url.conninfo, autocommit=True) as conn:
                schema = namespace_schema(a.store.schema, "broken")
                conn.execute(f'CREATE SCHEMA "{schema}"')
                conn.execute(f'CREATE TABLE "{schema}".migrations AS SELECT 99 AS version')
            damage = "newer than this oeskit knows"
        else:
            (folder / "broken.db").write_bytes(b"this is not a SQLite database" * 100)
            damage = "not a database"
        broken = await open_("/ns/broken").get(SETTLEMENTS)
        assert broken.status_code == 500
        assert broken.json()["rule"] == "OES-SRV-001"
        request_id = broken.headers["X-Request-Id"]
        assert len(request_id) == 12
        assert f"logged as request {request_id}" in broken.json()["error"]
        assert damage in caplog.text
        assert (await a.get(SETTLEMENTS)).status_code == 200
        assert (await default.get(SETTLEMENTS)).status_code == 200


@pytest.mark.parametrize(
    ("path", "authorization"),
    [
        ("/sandbox/clock", None),
        ("/openapi.json", None),
        ("/", None),
        (SETTLEMENTS, "Bearer not-a-token-of-the-world"),
        ("/sandbox/clock", "Bearer not-the-admin-token"),
        ("/no/such/route", "Basic " + ADMIN),
    ],
    ids=["no-credential", "spec-file", "landing", "wrong-token", "wrong-admin", "not-bearer"],
)
async def test_only_a_credential_creates_a_namespace(
    server: Server, path: str, authorization: str | None
) -> None:
    """A request under an unknown namespace without a valid credential for it (the admin token,
    or a token of the world it would load) is answered exactly as an unknown path, creates no
    file and takes no place: with the limit at 1, 64 such requests leave room for the admin."""
    async with server(max_namespaces=1) as (folder, open_):
        default = open_("")
        unknown = (await default.client.get("/no/such/route")).json()
        headers = {"Authorization": authorization} if authorization else {}
        for n in range(64):
            response = await default.client.get(f"/ns/probe-{n}{path}", headers=headers)
            assert response.status_code == 404, response.text
            assert response.json() == {
                "error": unknown["error"].replace("/no/such/route", f"/ns/probe-{n}{path}"),
                "rule": "OES-REQ-004",
            }
        assert stored(folder) == []
        if isinstance(folder, Path):  # not even the folder or its lock file
            assert not folder.exists() or not list(folder.iterdir())
        assert (await default.admin("GET", "/namespaces")).json()["namespaces"] == []
        created = await open_("/ns/mine").admin("GET", "/clock")
        assert created.status_code == 200, created.text


@pytest.mark.parametrize("token", [ADMIN, "demo-exchange-token"], ids=["admin", "world-token"])
async def test_the_admin_or_a_world_token_creates_a_namespace(server: Server, token: str) -> None:
    """The admin token or any token of the server's world creates the namespace, whatever the
    route answers then (here a 404 of an unknown route inside it)."""
    async with server() as (folder, open_):
        response = await open_("").client.get(
            "/ns/made/no/such/route", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.json()["rule"] == "OES-REQ-004"
        assert stored(folder) == ["made"]
