"""After staging (domain.md §8.9), driven by the sandbox clock: the dispute window closes at T1
(disputed connections withheld), execution at T2 (completed, or failed and retried by replay),
and closed disputes travel with the next settlement (domain.md §12)."""

from __future__ import annotations

from typing import Any

import pytest

from oeskit import signing
from tests.api.conftest import (
    CLOSED_DISPUTE,
    DISPUTES,
    GAMMA,
    SETTLEMENTS,
    adjust,
    advance,
    connection_balance,
    partner_balance,
    settlement_detail,
)
from tests.conftest import ALPHA, BETA, EXCHANGE, Sandbox

pytestmark = pytest.mark.anyio

EXCHANGE_BTC = 100_000_000_000  # Demo Exchange's own ofcbtc
EXCHANGE_ETH = 10_000_000_000_000_000_000_000  # and ofceth


async def stage_ok(sb: Sandbox, fields: dict[str, Any]) -> dict[str, Any]:
    response = await sb.stage(sb.sign(fields))
    assert response.status_code == 200, response.text
    settlement: dict[str, Any] = response.json()["settlement"]
    return settlement


async def raise_dispute(sb: Sandbox, settlement_id: str, connection: str) -> str:
    response = await sb.admin(
        "POST",
        "/disputes",
        json={
            "settlementId": settlement_id,
            "connectionId": connection,
            "reason": "does not match our books",
        },
    )
    assert response.status_code == 200, response.text
    dispute_id: str = response.json()["dispute"]["id"]
    return dispute_id


def by_destination(detail: dict[str, Any]) -> dict[tuple[str, str, bool], dict[str, Any]]:
    """Transfers keyed by (destination network account, currency, carried from a closure)."""
    return {
        (t["destinationNetworkAccountId"], t["currency"], "disputeClosureId" in t): t
        for t in detail["settlementTransfers"]
    }


ALPHA_NET = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
BETA_NET = "c9f27f7c-4d52-4cff-ae8c-4b07faadbc36"
GAMMA_NET = "3604450d-442e-41c1-9c18-c3fcc33659b8"


async def test_settlement_stays_pending_until_the_top_up_window_ends(sb: Sandbox) -> None:
    """At T1 the window closes (a settlement.finalize event lists the final transfers) but the
    settlement is still pending; nothing executes before T2."""
    settlement = await stage_ok(sb, sb.fields({ALPHA: {"BTC": "-1000"}}))
    assert (await advance(sb, 59))["jobsRun"] == 0
    assert (await advance(sb, 1))["jobsRun"] == 1
    detail = await settlement_detail(sb, settlement["id"])
    assert detail["settlement"]["status"] == "pending"
    assert {t["status"] for t in detail["settlementTransfers"]} == {"pending"}
    events = (
        await sb.admin(
            "GET",
            "/outbox",
            params={"type": "settlement.finalize", "settlementId": settlement["id"]},
        )
    ).json()["events"]
    assert len(events) == 1
    final = events[0]["data"]["finalTransfers"]
    assert sorted((t["destinationConnectionId"], t["quantity"]) for t in final) == [
        (ALPHA, "-1000"),
        (BETA, "-35000"),
    ]
    assert (await advance(sb, 29))["jobsRun"] == 0


async def test_execution_completes_transfers_and_moves_funds(sb: Sandbox) -> None:
    """At T2 every transfer completes with a txId, the settlement completes with finalizedAt,
    holds are released into the moves, and the partner's own account takes the other side."""
    settlement = await stage_ok(sb, sb.fields({ALPHA: {"BTC": "-1000", "ETH": "2000"}}))
    assert (await advance(sb, 90))["jobsRun"] == 2
    detail = await settlement_detail(sb, settlement["id"])
    done = detail["settlement"]
    assert done["status"] == "completed"
    assert done["finalizedAt"] == done["updatedAt"] > done["createdAt"]
    transfers = detail["settlementTransfers"]
    assert {t["status"] for t in transfers} == {"completed"}
    assert all(len(t["txIds"]) == 1 and t["txIds"][0] for t in transfers)
    assert await connection_balance(sb, ALPHA, "BTC") == {"available": "499999000", "held": "0"}
    assert await connection_balance(sb, ALPHA, "ETH") == {
        "available": "50000000000000002000",
        "held": "0",
    }
    assert await connection_balance(sb, BETA, "BTC") == {"available": "199965000", "held": "0"}
    assert await partner_balance(sb, "BTC") == {"available": str(EXCHANGE_BTC + 36000), "held": "0"}
    assert await partner_balance(sb, "ETH") == {"available": "9999999999999999998000", "held": "0"}
    listed = (await sb.get(DISPUTES, closed="true")).json()["disputes"]
    closure = listed[0]["disputeClosure"]
    assert [t["status"] for t in closure["adjustedSettlementTransfers"]] == ["completed"]


async def test_disputed_connection_is_withheld_and_the_rest_executes(sb: Sandbox) -> None:
    """A dispute raised in the window withholds that connection's transfers at T1 (disputed,
    hold released, settlement disputed) while the others complete at T2."""
    settlement = await stage_ok(sb, sb.fields({ALPHA: {"BTC": "-1000"}, GAMMA: {"BTC": "-2000"}}))
    await advance(sb, 10)
    await raise_dispute(sb, settlement["id"], GAMMA)
    assert await connection_balance(sb, GAMMA, "BTC") == {"available": "99998000", "held": "2000"}
    await advance(sb, 50)  # T1
    detail = await settlement_detail(sb, settlement["id"])
    transfers = by_destination(detail)
    assert transfers[(GAMMA_NET, "ofcbtc", False)]["status"] == "disputed"
    assert transfers[(ALPHA_NET, "ofcbtc", False)]["status"] == "pending"
    assert detail["settlement"]["disputed"] is True
    assert detail["settlement"]["status"] == "pending"
    assert await connection_balance(sb, GAMMA, "BTC") == {"available": "100000000", "held": "0"}
    assert [d["connectionId"] for d in detail["settlementDisputes"]] == [GAMMA]

    await advance(sb, 30)  # T2
    detail = await settlement_detail(sb, settlement["id"])
    transfers = by_destination(detail)
    assert detail["settlement"]["status"] == "completed"
    assert transfers[(GAMMA_NET, "ofcbtc", False)]["status"] == "disputed"
    assert transfers[(GAMMA_NET, "ofcbtc", False)]["txIds"] == []
    assert transfers[(ALPHA_NET, "ofcbtc", False)]["status"] == "completed"
    assert await connection_balance(sb, GAMMA, "BTC") == {"available": "100000000", "held": "0"}
    assert await connection_balance(sb, ALPHA, "BTC") == {"available": "499999000", "held": "0"}
    listed = (await sb.get(SETTLEMENTS, onlyShowDisputed="true")).json()["settlements"]
    assert settlement["id"] in [s["id"] for s in listed]


async def test_carried_adjustments_execute_even_if_the_client_disputes(sb: Sandbox) -> None:
    """A dispute by beta withholds beta's own transfer but not the adjusted transfer its earlier
    dispute's closure carries: adjustments are not re-disputable."""
    settlement = await stage_ok(sb, sb.fields({BETA: {"BTC": "-1000"}}))
    await raise_dispute(sb, settlement["id"], BETA)
    await advance(sb, 90)
    transfers = by_destination(await settlement_detail(sb, settlement["id"]))
    assert transfers[(BETA_NET, "ofcbtc", False)]["status"] == "disputed"
    assert transfers[(BETA_NET, "ofcbtc", True)]["status"] == "completed"
    assert await connection_balance(sb, BETA, "BTC") == {"available": "199965000", "held": "0"}


async def test_retracted_dispute_lets_everything_execute(sb: Sandbox) -> None:
    """A dispute retracted within the window withholds nothing; the settlement is not disputed."""
    settlement = await stage_ok(sb, sb.fields({GAMMA: {"BTC": "-2000"}}))
    dispute_id = await raise_dispute(sb, settlement["id"], GAMMA)
    await advance(sb, 20)
    retracted = await sb.admin(
        "POST", f"/disputes/{dispute_id}/retract", json={"retracted": True, "reason": "reconciled"}
    )
    assert retracted.status_code == 200, retracted.text
    assert retracted.json()["dispute"]["retracted"] is True
    await advance(sb, 70)
    detail = await settlement_detail(sb, settlement["id"])
    assert detail["settlement"]["status"] == "completed"
    assert detail["settlement"]["disputed"] is False
    assert {t["status"] for t in detail["settlementTransfers"]} == {"completed"}
    assert await connection_balance(sb, GAMMA, "BTC") == {"available": "99998000", "held": "0"}


async def test_partner_short_of_funds_fails_then_replay_completes(sb: Sandbox) -> None:
    """Without funds for its net outflow the settlement fails at T2 with a reason naming the
    currency (holds kept); after a top-up the identical request retries and completes."""
    await adjust(sb, "ofceth", -EXCHANGE_ETH, partner=EXCHANGE)
    body = sb.sign(sb.fields({ALPHA: {"ETH": "1000"}, GAMMA: {"ETH": "-300"}}))
    first = await sb.stage(body)
    assert first.status_code == 200, first.text
    settlement_id = first.json()["settlement"]["id"]
    await advance(sb, 90)
    detail = await settlement_detail(sb, settlement_id)
    failed = detail["settlement"]
    assert failed["status"] == "failed"
    assert "insufficient partner balance" in failed["reason"]
    assert "ofceth (required 700, available 0)" in failed["reason"]
    assert "finalizedAt" not in failed
    own = [t for t in detail["settlementTransfers"] if "disputeClosureId" not in t]
    assert {t["status"] for t in own} == {"failed"}
    assert await connection_balance(sb, GAMMA, "ETH") == {
        "available": "999999999999700",
        "held": "300",
    }

    await adjust(sb, "ofceth", 700, partner=EXCHANGE)
    replay = await sb.stage(body)
    assert replay.status_code == 200, replay.text
    retried = replay.json()["settlement"]
    assert (retried["id"], retried["status"]) == (settlement_id, "completed")
    assert "reason" not in retried and retried["finalizedAt"]
    detail = await settlement_detail(sb, settlement_id)
    assert {t["status"] for t in detail["settlementTransfers"]} == {"completed"}
    assert await partner_balance(sb, "ETH") == {"available": "0", "held": "0"}
    assert await connection_balance(sb, ALPHA, "ETH") == {
        "available": "50000000000000001000",
        "held": "0",
    }
    assert await connection_balance(sb, GAMMA, "ETH") == {
        "available": "999999999999700",
        "held": "0",
    }


async def test_inflows_of_the_same_settlement_fund_its_outflows(sb: Sandbox) -> None:
    """The partner's check is on its net outflow per currency: what connections pay it in the
    same settlement (here the carried -35000) covers what it pays out."""
    await adjust(sb, "ofcbtc", -EXCHANGE_BTC, partner=EXCHANGE)
    settlement = await stage_ok(sb, sb.fields({ALPHA: {"BTC": "30000"}}))
    await advance(sb, 90)
    detail = await settlement_detail(sb, settlement["id"])
    assert detail["settlement"]["status"] == "completed"
    assert await partner_balance(sb, "BTC") == {"available": "5000", "held": "0"}


async def test_replay_of_a_failed_settlement_before_funding_stays_failed(sb: Sandbox) -> None:
    """Replaying while the partner is still short retries and fails again with the reason."""
    await adjust(sb, "ofceth", -EXCHANGE_ETH, partner=EXCHANGE)
    body = sb.sign(sb.fields({ALPHA: {"ETH": "1000"}}))
    assert (await sb.stage(body)).status_code == 200
    await advance(sb, 90)
    replay = await sb.stage(body)
    assert replay.status_code == 200, replay.text
    assert replay.json()["settlement"]["status"] == "failed"
    assert "ofceth" in replay.json()["settlement"]["reason"]


async def test_dispute_after_the_window_is_refused(sb: Sandbox) -> None:
    """Raising or retracting a dispute once the dispute window is over is a 409 OES-SBX-004."""
    settlement = await stage_ok(sb, sb.fields({ALPHA: {"BTC": "-1000"}, GAMMA: {"BTC": "-1"}}))
    dispute_id = await raise_dispute(sb, settlement["id"], GAMMA)
    await advance(sb, 60)
    late = await sb.admin(
        "POST", "/disputes", json={"settlementId": settlement["id"], "connectionId": ALPHA}
    )
    assert late.status_code == 409, late.text
    assert late.json()["rule"] == "OES-SBX-004"
    assert "window" in late.json()["error"]
    retract = await sb.admin("POST", f"/disputes/{dispute_id}/retract", json={})
    assert (retract.status_code, retract.json()["rule"]) == (409, "OES-SBX-004")


async def test_worked_scenario_of_the_domain_brief(sb: Sandbox) -> None:
    """domain.md §12 end to end: 422, allocate and retry, replay and conflict, a dispute withheld
    at T1, execution at T2, an approved closure carried by the next settlement (its -350 in that
    settlement's liability check) and executed with it."""
    # 1. alpha holds 150 wei of ETH
    await adjust(sb, "ofceth", -(50_000_000_000_000_000_000 - 150), connection=ALPHA)
    fields = sb.fields(
        {ALPHA: {"BTC": "100", "ETH": "-200"}, BETA: {"XRP": "300", "BTC": "-400"}},
        externalId="settlement-2025-06-01",
        notes="daily settlement",
    )
    # 2. 422: the liability 200 exceeds 150; nothing is persisted
    refused = await sb.stage(sb.sign(fields))
    assert refused.status_code == 422, refused.text
    assert (
        refused.json()["connectionId"],
        refused.json()["required"],
        refused.json()["available"],
    ) == (ALPHA, "200", "150")
    # 3. allocate 100 more and send it again with a new nonce and signature
    await adjust(sb, "ofceth", 100, connection=ALPHA)
    fields = {**fields, "nonce": signing.new_nonce()}
    body = sb.sign(fields)
    first = await stage_ok(sb, fields)
    assert await connection_balance(sb, ALPHA, "ETH") == {"available": "50", "held": "200"}
    # 4. replays
    assert (await sb.stage(body)).json()["settlement"]["id"] == first["id"]
    conflict = await sb.stage(sb.sign({**fields, "notes": "changed"}))
    assert (conflict.status_code, conflict.json()["rule"]) == (409, "OES-IDEM-002")
    # 5. beta disputes at +10; at T1 its transfers are withheld
    await advance(sb, 10)
    dispute_id = await raise_dispute(sb, first["id"], BETA)
    await advance(sb, 50)
    transfers = by_destination(await settlement_detail(sb, first["id"]))
    assert {transfers[(BETA_NET, c, False)]["status"] for c in ("ofcxrp", "ofcbtc")} == {"disputed"}
    # 6. at T2 alpha's transfers complete
    await advance(sb, 30)
    detail = await settlement_detail(sb, first["id"])
    assert (detail["settlement"]["status"], detail["settlement"]["disputed"]) == ("completed", True)
    transfers = by_destination(detail)
    assert {transfers[(ALPHA_NET, c, False)]["status"] for c in ("ofcbtc", "ofceth")} == {
        "completed"
    }
    assert transfers[(BETA_NET, "ofcbtc", True)]["status"] == "completed"  # the demo's carry
    # 7. an admin closes beta's dispute: -350 waits for the next settlement
    closed = await sb.admin(
        "POST",
        f"/disputes/{dispute_id}/close",
        json={
            "closedBy": "admin",
            "status": "approved",
            "adjustedTransfers": {"ofcbtc": "-350"},
            "notes": "settle 350",
        },
    )
    assert closed.status_code == 200, closed.text
    waiting = closed.json()["dispute"]["disputeClosure"]["adjustedSettlementTransfers"]
    assert [(t["status"], t.get("settlementId")) for t in waiting] == [
        ("pending_settlement_assignment", None)
    ]
    beta_before = await connection_balance(sb, BETA, "BTC")
    second = await stage_ok(sb, sb.fields({ALPHA: {"BTC": "-1"}}))
    assert [(d["id"], d["settledInSettlementId"]) for d in second["settlingDisputes"]] == [
        (dispute_id, second["id"])
    ]
    assert CLOSED_DISPUTE not in [d["id"] for d in second["settlingDisputes"]]
    assert await connection_balance(sb, BETA, "BTC") == {
        "available": str(int(beta_before["available"]) - 350),
        "held": "350",
    }
    await advance(sb, 90)
    transfers = by_destination(await settlement_detail(sb, second["id"]))
    assert transfers[(BETA_NET, "ofcbtc", True)]["status"] == "completed"
    assert await connection_balance(sb, BETA, "BTC") == {
        "available": str(int(beta_before["available"]) - 350),
        "held": "0",
    }


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/clock", {"now": "9999-12-31T23:59:59-23:59"}),
        ("/clock", {"now": "2026-06-30T23:59:60Z"}),
        ("/clock", {"advanceMinutes": 1e30}),
        ("/balances", {"connectionId": ALPHA, "currency": "ofcbtc", "amount": "9" * 5000}),
    ],
    ids=[
        "now-beyond-year-9999",
        "now-leap-second",
        "advance-beyond-any-date",
        "amount-too-many-digits",
    ],
)
async def test_control_plane_refuses_unrepresentable_values(
    sb: Sandbox, path: str, body: dict[str, Any]
) -> None:
    """A clock or amount the sandbox cannot represent is a 400 OES-SBX-002, not a crash, and
    the clock does not move."""
    before = (await sb.admin("GET", "/clock")).json()
    response = await sb.admin("POST", path, json=body)
    assert (response.status_code, response.json()["rule"]) == (400, "OES-SBX-002"), response.text
    assert response.json()["error"]
    assert (await sb.admin("GET", "/clock")).json() == before
