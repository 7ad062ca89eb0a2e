"""The happy path of the v2 POST: a signed request stages a pending settlement."""

from __future__ import annotations

import pytest

from tests.conftest import ALPHA, EXCHANGE, Sandbox

pytestmark = pytest.mark.anyio


async def test_signed_request_stages_a_pending_settlement(sandbox: Sandbox) -> None:
    """A well-signed request answers 200 with a pending offchain settlement echoing the body."""
    fields = sandbox.fields(notes="daily")
    response = await sandbox.stage(sandbox.sign(fields))
    assert response.status_code == 200, response.text
    settlement = response.json()["settlement"]
    assert settlement["status"] == "pending"
    assert settlement["partnerId"] == EXCHANGE
    assert settlement["externalId"] == fields["externalId"]
    assert settlement["notes"] == "daily"
    assert settlement["settlementType"] == "offchain"
    assert settlement["cutoffAt"] == "2026-11-01T00:00:00.000Z"


async def test_transfers_are_visible_by_id(sandbox: Sandbox) -> None:
    """Each amount becomes one transfer from the partner's account, shown by GET by id."""
    response = await sandbox.stage(sandbox.sign(sandbox.fields({ALPHA: {"BTC": "-1000"}})))
    settlement_id = response.json()["settlement"]["id"]
    detail = await sandbox.get(
        f"/api/network/v1/enterprises/ent-exchange/partners/settlements/{settlement_id}"
    )
    own = [t for t in detail.json()["settlementTransfers"] if "disputeClosureId" not in t]
    assert [(t["currency"], t["quantity"], t["status"]) for t in own] == [
        ("ofcbtc", "-1000", "pending")
    ]
