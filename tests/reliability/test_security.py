"""Security: tokens kept as digests, tenant isolation, the control plane's guard, SQL injection."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from oeskit.http import security
from oeskit.http.app import create_app
from oeskit.settings import Settings, is_loopback
from oeskit.store.postgres import PostgresStore
from tests.conftest import ADMIN, ALPHA, BETA, Sandbox, make_settings

pytestmark = pytest.mark.anyio

V1 = "/api/network/v1/enterprises/{e}/partners"
BROKER = "5a1f7f0e-0c1d-4f7e-9a0b-7d0d6b1e0002"
ALPHA_AT_BROKER = "68620590-8722-4d72-9abc-86634b871a09"
BETA_AT_BROKER = "d42fc7c5-207f-49ee-91d5-5f4ffa821036"
HISTORY = "4b44a80b-871e-48fe-a8d3-331463871ce7"  # Demo Exchange's settlement in demo.yaml
INJECTIONS = (
    "'; DROP TABLE settlements; --",
    '" OR 1=1 --',
    "x') OR ('1'='1",
    "1; UPDATE balances SET available = '0'",
)


@pytest.fixture
def sandbox(shared_sandbox: Sandbox) -> Sandbox:
    """The module's shared sandbox, reset to the demo world (tests/reliability/conftest.py):
    these tests need the demo world's state and the default settings, nothing of their own."""
    return shared_sandbox


async def test_tokens_are_stored_as_sha256_digests(sandbox: Sandbox) -> None:
    """The tokens table holds 64-hex digests, never a plaintext token of the world."""
    stored = [r[0] for r in sandbox.store.conn.execute("SELECT token FROM tokens")]
    plain = {t["token"] for t in sandbox.world["tokens"]}
    assert len(stored) == len(plain)
    assert all(re.fullmatch(r"[0-9a-f]{64}", t) for t in stored)
    assert not plain & set(stored)


def test_admin_token_is_compared_in_constant_time() -> None:
    """The admin token check uses hmac.compare_digest (no early exit on the first byte)."""
    source = inspect.getsource(security.admin_bearer)
    assert "hmac.compare_digest" in source and "==" not in source


async def test_broker_cannot_read_exchange_settlement(sandbox: Sandbox) -> None:
    """Partner B asking for partner A's settlement by id gets 404, as if it did not exist."""
    staged = await sandbox.stage(sandbox.sign(sandbox.fields()))
    settlement_id = staged.json()["settlement"]["id"]
    response = await sandbox.get(
        f"{V1.format(e='ent-broker')}/settlements/{settlement_id}", token="demo-broker-token"
    )
    assert response.status_code == 404
    assert response.json()["rule"] == "OES-READ-001"


async def test_broker_cannot_list_exchange_settlements(sandbox: Sandbox) -> None:
    """Partner B's list filtered by partner A's ids and externalIds is empty."""
    staged = await sandbox.stage(sandbox.sign(sandbox.fields(externalId="secret-ext")))
    settlement_id = staged.json()["settlement"]["id"]
    response = await sandbox.get(
        f"{V1.format(e='ent-broker')}/settlements",
        token="demo-broker-token",
        settlementIds=f"{settlement_id},{HISTORY}",
        externalIds="secret-ext",
    )
    assert response.status_code == 200
    assert response.json() == {"settlements": []}


async def test_broker_cannot_see_exchange_balances(sandbox: Sandbox) -> None:
    """Partner B's balances filtered by partner A's connections show none of them."""
    response = await sandbox.get(
        f"{V1.format(e='ent-broker')}/balances",
        token="demo-broker-token",
        connectionIds=f"{ALPHA},{BETA}",
    )
    assert response.status_code == 200, response.text
    assert response.json()["networkBalances"] == {}


async def test_broker_cannot_see_exchange_disputes(sandbox: Sandbox) -> None:
    """Partner A's dispute (demo history) is invisible to partner B, even by its ids."""
    mine = await sandbox.get(f"{V1.format(e='ent-exchange')}/settlement/disputes")
    assert [d["id"] for d in mine.json()["disputes"]] == ["af1ef7a9-59d0-4a1c-8468-353f09a9798c"]
    theirs = await sandbox.get(
        f"{V1.format(e='ent-broker')}/settlement/disputes",
        token="demo-broker-token",
        settlementIds=HISTORY,
        disputeIds="af1ef7a9-59d0-4a1c-8468-353f09a9798c",
    )
    assert theirs.status_code == 200
    assert theirs.json() == {"disputes": []}


@pytest.mark.parametrize(
    "path",
    [
        "/settlements",
        "/settlements/" + HISTORY,
        "/balances",
        "/settlement/disputes",
        "/settlements-signing?externalId=x&nonce=n&cutoffAt=2026-11-01T00:00:00Z"
        "&settlementAmounts=%7B%7D",
    ],
)
async def test_broker_token_on_exchange_enterprise_is_401(sandbox: Sandbox, path: str) -> None:
    """Partner B's token on partner A's enterprise: 401 not a member, whatever the route."""
    response = await sandbox.client.get(
        V1.format(e="ent-exchange") + path, headers={"Authorization": "Bearer demo-broker-token"}
    )
    assert response.status_code == 401
    assert response.json()["rule"] == "OES-AUTH-003"


async def test_broker_cannot_replay_or_sign_for_exchange(sandbox: Sandbox) -> None:
    """Partner A's signed body sent by B (its own enterprise) fails B's keys: 401 SIG-004;
    sent to A's enterprise with B's token: 401 AUTH-003. Nothing is created."""
    body = sandbox.sign(sandbox.fields())
    first = await sandbox.stage(body)
    assert first.status_code == 200
    before = sandbox.snapshot()
    as_broker = await sandbox.stage(body, token="demo-broker-token", enterprise="ent-broker")
    assert (as_broker.status_code, as_broker.json()["rule"]) == (401, "OES-SIG-004")
    into_exchange = await sandbox.stage(body, token="demo-broker-token")
    assert (into_exchange.status_code, into_exchange.json()["rule"]) == (401, "OES-AUTH-003")
    assert sandbox.snapshot() == before


async def test_other_partners_connection_in_amounts_is_400(sandbox: Sandbox) -> None:
    """A signs amounts naming B's connection: 400 OES-AMT-002, in either shape."""
    before = sandbox.snapshot()
    for amounts in ({ALPHA_AT_BROKER: {"BTC": "-10"}}, {ALPHA: {ALPHA_AT_BROKER: {"BTC": "10"}}}):
        response = await sandbox.stage(sandbox.sign(sandbox.fields(amounts)))
        assert (response.status_code, response.json()["rule"]) == (400, "OES-AMT-002"), (
            response.text
        )
        assert ALPHA_AT_BROKER in response.json()["error"]
    broker = sandbox.sign(
        sandbox.fields({ALPHA_AT_BROKER: {BETA: {"BTC": "0.1"}}}), partner_id=BROKER
    )
    response = await sandbox.stage(broker, token="demo-broker-token", enterprise="ent-broker")
    assert (response.status_code, response.json()["rule"]) == (400, "OES-AMT-002")
    assert sandbox.snapshot() == before


@pytest.mark.parametrize(
    "token",
    [None, "wrong", "demo-exchange-token", ADMIN + "x"],
    ids=["none", "wrong", "partner-token", "admin-prefix"],
)
async def test_control_plane_refuses_without_admin_token(
    sandbox: Sandbox, token: str | None
) -> None:
    """/sandbox/* answers 401 OES-SBX-001 without the exact admin token, and does nothing."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    before = sandbox.snapshot()
    for method, path in (
        ("POST", "/sandbox/reset"),
        ("GET", "/sandbox/clock"),
        ("POST", "/sandbox/jobs/run"),
    ):
        response = await sandbox.client.request(method, path, headers=headers)
        assert (response.status_code, response.json()["rule"]) == (401, "OES-SBX-001")
    assert sandbox.snapshot() == before


async def test_control_plane_is_off_on_a_public_host(tmp_path: Path) -> None:
    """Bound to 0.0.0.0 without an admin token, /sandbox/* does not exist (404)."""
    assert not is_loopback("0.0.0.0") and is_loopback("127.0.0.1")  # noqa: S104 - the point
    settings = make_settings(tmp_path, host="0.0.0.0", admin_token=None)  # noqa: S104
    assert isinstance(settings, Settings) and not settings.control_plane_enabled
    app = create_app(settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox.test"
    ) as client:
        for path in ("/sandbox/clock", "/sandbox/reset"):
            response = await client.post(path, headers={"Authorization": f"Bearer {ADMIN}"})
            assert response.status_code == 404
            assert response.json()["rule"] == "OES-REQ-004"


def _counts(sandbox: Sandbox) -> dict[str, int]:
    conn = sandbox.store.conn
    tables = (
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        if isinstance(sandbox.store, PostgresStore)
        else "SELECT name FROM sqlite_master WHERE type = 'table'"
    )
    names = [r[0] for r in conn.execute(tables)]
    return {
        n: conn.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0]
        for n in names
        if n not in ("request_log", "sqlite_sequence")
    }


async def test_sql_injection_strings_change_nothing(sandbox: Sandbox) -> None:
    """Injection strings in every body field, path and query parameter: all answered without a
    5xx, and the database keeps its tables and row counts (only real stagings add rows)."""
    before = _counts(sandbox)
    statuses: list[int] = []
    staged = 0
    for evil in INJECTIONS:
        variants: list[dict[str, Any]] = [
            sandbox.fields(externalId=evil, notes=evil),
            sandbox.fields({evil: {"BTC": "-1"}}),
            sandbox.fields({ALPHA: {evil: "-1"}}),
            sandbox.fields({ALPHA: {"BTC": evil}}),
            sandbox.fields(nonce=evil),
            sandbox.fields(cutoffAt=evil),
        ]
        for fields in variants:
            response = await sandbox.stage(sandbox.sign(fields))
            statuses.append(response.status_code)
            staged += response.status_code == 200
        forged = {**sandbox.sign(sandbox.fields()), "signature": evil, "payload": evil}
        statuses.append((await sandbox.stage(forged)).status_code)
        statuses.append(
            (await sandbox.stage(sandbox.sign(sandbox.fields()), enterprise=evil)).status_code
        )
        base = V1.format(e="ent-exchange")
        for path, params in (
            (
                "/settlements",
                {
                    "settlementIds": evil,
                    "externalIds": evil,
                    "partyConnectionIds": evil,
                    "counterpartyConnectionIds": evil,
                },
            ),
            ("/settlements", {"createdOnOrAfter": evil}),
            ("/settlements/" + evil, {"currencies": evil, "sourceTradingAccountIds": evil}),
            ("/balances", {"connectionIds": evil, "clientIds": evil}),
            (
                "/settlement/disputes",
                {
                    "settlementIds": evil,
                    "connectionIds": evil,
                    "disputeIds": evil,
                    "settledInSettlementIds": evil,
                },
            ),
            (
                "/settlements-signing",
                {"externalId": evil, "nonce": evil, "cutoffAt": evil, "settlementAmounts": evil},
            ),
        ):
            statuses.append((await sandbox.get(base + path, **params)).status_code)
        statuses.append(
            (
                await sandbox.admin("GET", "/outbox", params={"type": evil, "settlementId": evil})
            ).status_code
        )
    assert all(s < 500 for s in statuses), statuses
    after = _counts(sandbox)
    assert after["settlements"] - before["settlements"] == staged
    unchanged = {
        k: v
        for k, v in before.items()
        if k not in ("settlements", "transfers", "holds", "jobs", "outbox", "balances", "disputes")
    }
    assert {k: after[k] for k in unchanged} == unchanged
    assert set(after) == set(before)
    settled = sandbox.store.conn.execute(
        "SELECT COUNT(*) FROM settlements WHERE external_id IN (SELECT value FROM json_each(?))",
        (json.dumps(list(INJECTIONS)),),
    ).fetchone()[0]
    assert settled == len(INJECTIONS)  # stored verbatim as data


async def test_world_bodies_are_logged_without_private_keys_or_tokens(
    sandbox: Sandbox, demo_world: dict[str, Any]
) -> None:
    """POST /sandbox/world is logged with every privateKey and token masked, at rest too: the
    request log row holds neither the world's private keys nor its bearer tokens."""
    answer = await sandbox.admin("POST", "/world", json=demo_world)
    assert answer.status_code == 200, answer.text
    sandbox.store.flush_request_log()
    logged = await sandbox.admin("GET", "/requests", params={"limit": 10})
    world_entry = next(r for r in logged.json()["requests"] if r["path"] == "/sandbox/world")
    private_keys = [
        key["privateKey"]
        for partner in demo_world["partners"]
        for key in partner.get("signingKeys", [])
        if key.get("privateKey")
    ]
    tokens = [token["token"] for token in demo_world["tokens"]]
    assert private_keys and tokens
    stored = b"".join(
        row[0] for row in sandbox.store.conn.execute("SELECT body FROM request_log") if row[0]
    )
    for secret in (*private_keys, *tokens):
        assert secret not in world_entry["body"], secret
        assert secret.encode() not in stored, secret
    assert '"privateKey":"***redacted***"' in world_entry["body"].replace(" ", "")
    assert '"token":"***redacted***"' in world_entry["body"].replace(" ", "")
