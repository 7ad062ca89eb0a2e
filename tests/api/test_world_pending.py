"""A world may hold pending settlements: they get their jobs and holds, as if staged."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from oeskit.doctor import examine
from tests.conftest import ALPHA, EXCHANGE, Sandbox

pytestmark = pytest.mark.anyio
PENDING = "7d3c1c2e-5d6f-4a1b-9c8d-0e1f2a3b4c5d"


def _world_with_pending(world: dict[str, Any], quantity: str) -> dict[str, Any]:
    data = copy.deepcopy(world)
    data["clock"] = "2026-11-25T00:00:00Z"
    data["settlements"].append(
        {
            "id": PENDING,
            "partnerId": EXCHANGE,
            "externalId": "world-pending",
            "status": "pending",
            "createdAt": "2026-11-24T23:30:00Z",
            "cutoffAt": "2026-11-24T23:00:00Z",
            "transfers": [
                {"destinationConnectionId": ALPHA, "currency": "ofcbtc", "quantity": quantity}
            ],
        }
    )
    return data


async def test_pending_world_settlement_is_held_and_finalizes(sandbox: Sandbox) -> None:
    """Loading holds its liability and queues its jobs; doctor is clean; the clock completes it."""
    loaded = await sandbox.admin("POST", "/world", json=_world_with_pending(sandbox.world, "-700"))
    assert loaded.status_code == 200, loaded.text
    jobs = (await sandbox.admin("GET", "/jobs")).json()["jobs"]
    assert sorted((j["kind"], j["dueAt"]) for j in jobs if j["settlementId"] == PENDING) == [
        ("close_dispute_window", "2026-11-25T00:30:00.000Z"),
        ("execute", "2026-11-25T01:00:00.000Z"),
    ]
    held = sandbox.store.conn.execute(
        "SELECT held FROM balances WHERE connection_id = ? AND currency = 'ofcbtc'", (ALPHA,)
    ).fetchone()[0]
    assert held == "700"
    assert examine(sandbox.store.conn).violations == ()
    await sandbox.admin("POST", "/clock", json={"advanceMinutes": 61})
    detail = await sandbox.get(
        f"/api/network/v1/enterprises/ent-exchange/partners/settlements/{PENDING}"
    )
    assert detail.json()["settlement"]["status"] == "completed"


async def test_pending_world_settlement_beyond_the_balance_is_refused(sandbox: Sandbox) -> None:
    """A pending settlement whose hold exceeds the connection's balance is a 400 naming it."""
    before = sandbox.snapshot()
    refused = await sandbox.admin(
        "POST", "/world", json=_world_with_pending(sandbox.world, "-999999999999999")
    )
    assert refused.status_code == 400
    body = refused.json()
    assert body["rule"] == "OES-SBX-002"
    assert PENDING in body["error"] and ALPHA in body["error"] and "available" in body["error"]
    assert sandbox.snapshot() == before
