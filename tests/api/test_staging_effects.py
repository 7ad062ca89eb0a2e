"""What a successful staging does (the six steps) and how its idempotency behaves: transfers,
carried disputes, the liability check with their adjustments, holds, notifications, jobs."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from oeskit import signing
from oeskit.clock import format_instant, parse_instant
from tests.api.conftest import (
    BROKER,
    BROKER_ALPHA,
    BROKER_BETA,
    CLOSED_DISPUTE,
    CLOSED_DISPUTE_CLOSURE,
    DISPUTES,
    GAMMA,
    SETTLEMENTS,
    adjust,
    connection_balance,
    settlement_detail,
)
from tests.conftest import ALPHA, BETA, Sandbox

pytestmark = pytest.mark.anyio

ALPHA_NETWORK = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
BETA_NETWORK = "c9f27f7c-4d52-4cff-ae8c-4b07faadbc36"
BROKER_ALPHA_NETWORK = "8181d9f3-1b04-40cb-86a8-d0b621730caa"
BROKER_BETA_NETWORK = "d6e0bd18-9d50-4142-b880-20ed3dc1415e"


async def stage_ok(sb: Sandbox, fields: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    partner = kwargs.pop("partner", None)
    body = sb.sign(fields, partner) if partner else sb.sign(fields)
    response = await sb.stage(body, **kwargs)
    assert response.status_code == 200, response.text
    settlement: dict[str, Any] = response.json()["settlement"]
    return settlement


def own(transfers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The settlement's own transfers, without those carried from dispute closures."""
    return [t for t in transfers if "disputeClosureId" not in t]


def sides(transfer: dict[str, Any]) -> tuple[Any, ...]:
    return (
        transfer["sourceTradingAccountId"],
        transfer.get("sourceNetworkAccountId"),
        transfer["destinationTradingAccountId"],
        transfer["destinationNetworkAccountId"],
        transfer["currency"],
        transfer["quantity"],
        transfer["status"],
    )


# --- step 2: one transfer per amount ------------------------------------------------------------


async def test_connection_liabilities_map_to_partner_transfers(sb: Sandbox) -> None:
    """Shape A: each amount is one pending transfer between the partner's Go Account (no network
    account) and the connection, in BitGo currency and base units, with the amount's sign."""
    settlement = await stage_ok(sb, sb.fields({ALPHA: {"BTC": "-1000", "ETH": "2000"}}))
    detail = await settlement_detail(sb, settlement["id"])
    transfers = own(detail["settlementTransfers"])
    assert [sides(t) for t in transfers] == [
        (
            "exchange-go-account",
            None,
            "alpha-go-account",
            ALPHA_NETWORK,
            "ofcbtc",
            "-1000",
            "pending",
        ),
        (
            "exchange-go-account",
            None,
            "alpha-go-account",
            ALPHA_NETWORK,
            "ofceth",
            "2000",
            "pending",
        ),
    ]
    assert all(t["settlementId"] == settlement["id"] and t["txIds"] == [] for t in transfers)


async def test_nested_amounts_map_to_connection_to_connection_transfers(sb: Sandbox) -> None:
    """Shape B: the outer connection is the source, the middle one the destination, and the
    signed amount moves from source to destination."""
    settlement = await stage_ok(sb, sb.fields({ALPHA: {BETA: {"BTC": "1000", "XRP": "-7"}}}))
    transfers = own((await settlement_detail(sb, settlement["id"]))["settlementTransfers"])
    assert [sides(t) for t in transfers] == [
        (
            "alpha-go-account",
            ALPHA_NETWORK,
            "beta-go-account",
            BETA_NETWORK,
            "ofcbtc",
            "1000",
            "pending",
        ),
        (
            "alpha-go-account",
            ALPHA_NETWORK,
            "beta-go-account",
            BETA_NETWORK,
            "ofcxrp",
            "-7",
            "pending",
        ),
    ]


async def test_full_units_are_converted_to_base_units(sb: Sandbox) -> None:
    """A fullUnits partner's decimal amounts become base-unit integers of the BitGo currency."""
    fields = sb.fields(
        {
            BROKER_ALPHA: {"BTC": "0.5", "USDT": "-12.25"},
            BROKER_BETA: {"BTC": "-0.5", "USDT": "12.25"},
        }
    )
    settlement = await stage_ok(
        sb, fields, partner=BROKER, token="demo-broker-token", enterprise="ent-broker"
    )
    response = await sb.get(
        f"/api/network/v1/enterprises/ent-broker/partners/settlements/{settlement['id']}",
        token="demo-broker-token",
    )
    transfers = response.json()["settlementTransfers"]
    mapped = [(t["destinationNetworkAccountId"], t["currency"], t["quantity"]) for t in transfers]
    assert mapped == [
        (BROKER_ALPHA_NETWORK, "ofcbtc", "50000000"),
        (BROKER_ALPHA_NETWORK, "ofcusdt", "-12250000"),
        (BROKER_BETA_NETWORK, "ofcbtc", "-50000000"),
        (BROKER_BETA_NETWORK, "ofcusdt", "12250000"),
    ]
    assert {t["sourceTradingAccountId"] for t in transfers} == {"broker-go-account"}


async def test_response_is_pending_and_echoes_the_request(sb: Sandbox) -> None:
    """The 200 is the settlement as created: pending, offchain, not reconciled, no alerts, the
    caller as initiator, cutoffAt normalized, createdAt equal to updatedAt."""
    settlement = await stage_ok(
        sb, sb.fields({ALPHA: {"BTC": "-1"}}, notes="n", cutoffAt="2026-11-01T01:00:00+01:00")
    )
    assert {
        k: settlement[k]
        for k in (
            "status",
            "settlementType",
            "reconciled",
            "initiatedBy",
            "lossSLAAlertSent",
            "gainSLAAlertSent",
            "disputed",
            "cutoffAt",
            "notes",
        )
    } == {
        "status": "pending",
        "settlementType": "offchain",
        "reconciled": False,
        "initiatedBy": "user-exchange-ops",
        "lossSLAAlertSent": False,
        "gainSLAAlertSent": False,
        "disputed": False,
        "cutoffAt": "2026-11-01T00:00:00.000Z",
        "notes": "n",
    }
    assert settlement["createdAt"] == settlement["updatedAt"]
    assert "finalizedAt" not in settlement and "reason" not in settlement


async def test_empty_amounts_stage_a_settlement_without_own_transfers(sb: Sandbox) -> None:
    """`{}` is valid: the settlement exists only to carry closed disputes (domain.md §3.3)."""
    settlement = await stage_ok(sb, sb.fields({}))
    detail = await settlement_detail(sb, settlement["id"])
    assert own(detail["settlementTransfers"]) == []
    assert [d["id"] for d in settlement["settlingDisputes"]] == [CLOSED_DISPUTE]


# --- step 3: closed disputes join the next settlement ------------------------------------------


async def test_closed_dispute_is_assigned_to_the_next_settlement(sb: Sandbox) -> None:
    """The demo's closed, approved, unassigned dispute is carried by the first staging: it is in
    settlingDisputes with settledInSettlementId, and its adjusted transfer joins as pending."""
    settlement = await stage_ok(sb, sb.fields({ALPHA: {"BTC": "-1000"}}))
    carried = settlement["settlingDisputes"]
    assert [(d["id"], d["settledInSettlementId"], d["disputeClosureId"]) for d in carried] == [
        (CLOSED_DISPUTE, settlement["id"], CLOSED_DISPUTE_CLOSURE)
    ]
    adjusted = carried[0]["disputeClosure"]["adjustedSettlementTransfers"]
    assert [(t["settlementId"], t["status"], t["currency"], t["quantity"]) for t in adjusted] == [
        (settlement["id"], "pending", "ofcbtc", "-35000")
    ]

    detail = await settlement_detail(sb, settlement["id"])
    joined = [t for t in detail["settlementTransfers"] if "disputeClosureId" in t]
    assert [(t["id"], t["destinationNetworkAccountId"], t["status"]) for t in joined] == [
        (adjusted[0]["id"], BETA_NETWORK, "pending")
    ]
    assert [d["id"] for d in detail["settlingDisputes"]] == [CLOSED_DISPUTE]

    listed = (await sb.get(DISPUTES, closed="true")).json()["disputes"]
    assert {d["id"]: d.get("settledInSettlementId") for d in listed} == {
        CLOSED_DISPUTE: settlement["id"]
    }


async def test_a_carried_dispute_is_not_carried_twice(sb: Sandbox) -> None:
    """Once assigned, a dispute does not join the following settlement."""
    await stage_ok(sb, sb.fields({ALPHA: {"BTC": "-1000"}}))
    second = await stage_ok(sb, sb.fields({ALPHA: {"BTC": "-2000"}}))
    assert second["settlingDisputes"] == []


async def test_adjusted_transfer_counts_in_the_liability_check(sb: Sandbox) -> None:
    """A liability that fits alone is refused (422, nothing staged) when the carried dispute's
    -35000 ofcbtc on the same connection pushes it over the available balance."""
    await adjust(sb, "ofcbtc", -(200_000_000 - 40_000), connection=BETA)  # beta keeps 40000 sat
    before = sb.snapshot()
    response = await sb.stage(sb.sign(sb.fields({BETA: {"BTC": "-10000"}})))
    assert response.status_code == 422, response.text
    body = response.json()
    assert {k: body[k] for k in ("rule", "connectionId", "currency", "required", "available")} == {
        "rule": "OES-BAL-001",
        "connectionId": BETA,
        "currency": "ofcbtc",
        "required": "45000",
        "available": "40000",
    }
    assert BETA in body["error"]
    assert sb.snapshot() == before  # the dispute is still unassigned, nothing is held

    alone = await stage_ok(sb, sb.fields({BETA: {"BTC": "-5000"}}))  # 5000 + 35000 fits
    assert [d["id"] for d in alone["settlingDisputes"]] == [CLOSED_DISPUTE]


async def test_gains_offset_losses_of_the_same_connection(sb: Sandbox) -> None:
    """The check is on the net flow per connection and currency: a gain offsets a loss."""
    await adjust(sb, "ofcbtc", -(200_000_000 - 40_000), connection=BETA)
    settlement = await stage_ok(
        sb, sb.fields({ALPHA: {BETA: {"BTC": "-20000"}}, GAMMA: {BETA: {"BTC": "15000"}}})
    )
    # beta: -35000 (dispute) + 15000 - 20000 = -40000: exactly its 40000 available
    assert settlement["status"] == "pending"
    assert await connection_balance(sb, BETA, "BTC") == {"available": "0", "held": "40000"}


# --- step 4: holds -----------------------------------------------------------------------------


async def test_liabilities_move_from_available_to_held(sb: Sandbox) -> None:
    """Each connection's net liability moves from available to held; gains hold nothing."""
    await stage_ok(sb, sb.fields({ALPHA: {"BTC": "-1000", "ETH": "2000"}}))
    assert await connection_balance(sb, ALPHA, "BTC") == {"available": "499999000", "held": "1000"}
    assert await connection_balance(sb, ALPHA, "ETH") == {
        "available": "50000000000000000000",
        "held": "0",
    }
    assert await connection_balance(sb, BETA, "BTC") == {"available": "199965000", "held": "35000"}


async def test_nested_shape_holds_the_paying_connection(sb: Sandbox) -> None:
    """In the nested shape the source pays a positive amount, so the source's funds are held."""
    await stage_ok(sb, sb.fields({ALPHA: {GAMMA: {"USDC": "2500000"}}}))
    assert await connection_balance(sb, ALPHA, "USDC") == {
        "available": "999997500000",
        "held": "2500000",
    }
    assert await connection_balance(sb, GAMMA, "USDC") == {"available": "100000000", "held": "0"}


async def test_held_funds_are_not_available_to_the_next_settlement(sb: Sandbox) -> None:
    """Two settlements cannot spend the same allocation: the second one is a 422."""
    await stage_ok(sb, sb.fields({GAMMA: {"ETH": "-600000000000000"}}))
    response = await sb.stage(sb.sign(sb.fields({GAMMA: {"ETH": "-600000000000000"}})))
    assert response.status_code == 422, response.text
    assert (response.json()["available"], response.json()["required"]) == (
        "400000000000000",
        "600000000000000",
    )


# --- step 5: notifications ---------------------------------------------------------------------


async def test_every_connection_owner_is_notified_once(sb: Sandbox) -> None:
    """One settlement.created event per connection in the settlement, carried disputes included,
    naming the connection's client."""
    settlement = await stage_ok(
        sb, sb.fields({ALPHA: {"BTC": "-1", "ETH": "1"}, GAMMA: {"BTC": "2"}})
    )
    response = await sb.admin(
        "GET", "/outbox", params={"type": "settlement.created", "settlementId": settlement["id"]}
    )
    assert response.status_code == 200, response.text
    events = response.json()["events"]
    assert sorted((e["connectionId"], e["clientId"]) for e in events) == sorted(
        [(ALPHA, "client-alpha"), (GAMMA, "client-gamma"), (BETA, "client-beta")]
    )
    assert {e["at"] for e in events} == {settlement["createdAt"]}


# --- step 6: finalisation jobs -----------------------------------------------------------------


async def test_window_jobs_are_queued_after_the_windows(sb: Sandbox) -> None:
    """The dispute window closes at createdAt + 60 min and execution is due at + 90 min."""
    settlement = await stage_ok(sb, sb.fields({ALPHA: {"BTC": "-1"}}))
    response = await sb.admin("GET", "/jobs")
    assert response.status_code == 200, response.text
    jobs = [j for j in response.json()["jobs"] if j["settlementId"] == settlement["id"]]
    created = parse_instant(settlement["createdAt"])
    assert sorted((j["kind"], j["dueAt"], j["status"]) for j in jobs) == [
        ("close_dispute_window", format_instant(created + timedelta(minutes=60)), "queued"),
        ("execute", format_instant(created + timedelta(minutes=90)), "queued"),
    ]


# --- idempotency -------------------------------------------------------------------------------


async def test_identical_replay_returns_the_stored_settlement(sb: Sandbox) -> None:
    """The same body again answers the same settlement and settlingDisputes, and writes nothing
    (no second notification, job, hold or transfer)."""
    body = sb.sign(sb.fields({ALPHA: {"BTC": "-1000"}}))
    first = await sb.stage(body)
    before = sb.snapshot()
    replay = await sb.stage(body)
    assert replay.status_code == 200, replay.text
    assert replay.json() == first.json()
    assert sb.snapshot() == before


async def test_replay_with_new_nonce_and_signature_is_the_same_settlement(sb: Sandbox) -> None:
    """nonce, payload and signature are not properties: re-signing the same settlement with a
    new nonce and the other registered key answers the stored one."""
    fields = sb.fields({ALPHA: {"BTC": "-1000"}}, notes="daily")
    first = await stage_ok(sb, fields)
    before = sb.snapshot()
    again = sb.sign({**fields, "nonce": signing.new_nonce()}, scheme="bitcoin-message")
    response = await sb.stage(again)
    assert response.status_code == 200, response.text
    assert response.json()["settlement"]["id"] == first["id"]
    assert sb.snapshot() == before


async def test_same_instant_spelled_differently_is_the_same_settlement(sb: Sandbox) -> None:
    """cutoffAt is compared as an instant, so another spelling of it is a replay."""
    fields = sb.fields({ALPHA: {"BTC": "-1000"}}, cutoffAt="2026-11-01T00:00:00.000Z")
    first = await stage_ok(sb, fields)
    respelled = {**fields, "cutoffAt": "2026-11-01T01:00:00+01:00", "nonce": signing.new_nonce()}
    assert (await stage_ok(sb, respelled))["id"] == first["id"]


async def test_full_units_equal_after_normalization_are_the_same_settlement(sb: Sandbox) -> None:
    """For a fullUnits partner "0.5" and "0.50" are the same amount, so it is a replay."""
    broker = {"partner": BROKER, "token": "demo-broker-token", "enterprise": "ent-broker"}
    fields = sb.fields({BROKER_ALPHA: {"BTC": "0.5"}, BROKER_BETA: {"BTC": "-0.5"}})
    first = await stage_ok(sb, fields, **broker)
    before = sb.snapshot()
    padded = {
        **fields,
        "nonce": signing.new_nonce(),
        "settlementAmounts": {BROKER_ALPHA: {"BTC": "0.50"}, BROKER_BETA: {"BTC": "-0.5"}},
    }
    assert (await stage_ok(sb, padded, **broker))["id"] == first["id"]
    assert sb.snapshot() == before


async def test_equivalent_amounts_in_the_other_shape_conflict(sb: Sandbox) -> None:
    """Shape A and a nested shape moving the same amount have different sources: 409."""
    fields = sb.fields({BETA: {"BTC": "1000"}})
    await stage_ok(sb, fields)
    nested = {
        **fields,
        "nonce": signing.new_nonce(),
        "settlementAmounts": {ALPHA: {BETA: {"BTC": "1000"}}},
    }
    response = await sb.stage(sb.sign(nested))
    assert response.status_code == 409, response.text
    assert response.json()["rule"] == "OES-IDEM-002"


async def test_replay_does_not_pull_in_newly_closed_disputes(sb: Sandbox) -> None:
    """settlingDisputes are those of the first request; a dispute closed since then stays
    unassigned, waiting for the next new settlement."""
    body = sb.sign(sb.fields({ALPHA: {"BTC": "-1000"}}))
    first = (await sb.stage(body)).json()["settlement"]
    raised = await sb.admin(
        "POST", "/disputes", json={"settlementId": first["id"], "connectionId": ALPHA}
    )
    assert raised.status_code == 200, raised.text
    dispute_id = raised.json()["dispute"]["id"]
    closed = await sb.admin(
        "POST",
        f"/disputes/{dispute_id}/close",
        json={
            "closedBy": "admin",
            "status": "approved",
            "adjustedTransfers": {"ofcbtc": "-500"},
            "notes": "half of it",
        },
    )
    assert closed.status_code == 200, closed.text

    replay = (await sb.stage(body)).json()["settlement"]
    assert [d["id"] for d in replay["settlingDisputes"]] == [CLOSED_DISPUTE]
    waiting = (await sb.get(DISPUTES, disputeIds=dispute_id)).json()["disputes"]
    assert "settledInSettlementId" not in waiting[0]
    nxt = await stage_ok(sb, sb.fields({}))
    assert [d["id"] for d in nxt["settlingDisputes"]] == [dispute_id]


async def test_refused_staging_leaves_the_external_id_free(sb: Sandbox) -> None:
    """A 422 creates nothing, so the same externalId stages once the balance is topped up."""
    fields = sb.fields({GAMMA: {"ETH": "-2000000000000000"}})
    refused = await sb.stage(sb.sign(fields))
    assert refused.status_code == 422, refused.text
    await adjust(sb, "ofceth", 1_000_000_000_000_000, connection=GAMMA)
    settlement = await stage_ok(sb, {**fields, "nonce": signing.new_nonce()})
    assert settlement["externalId"] == fields["externalId"]


async def test_concurrent_identical_requests_create_one_settlement(sb: Sandbox) -> None:
    """Two identical requests in flight at once both answer 200 with one and the same id."""
    fields = sb.fields({ALPHA: {"BTC": "-1000"}})
    body = sb.sign(fields)
    responses = await asyncio.gather(*(sb.stage(body) for _ in range(4)))
    assert [r.status_code for r in responses] == [200] * 4
    assert len({r.json()["settlement"]["id"] for r in responses}) == 1
    listed = (await sb.get(SETTLEMENTS, externalIds=fields["externalId"])).json()["settlements"]
    assert len(listed) == 1
    jobs = (await sb.admin("GET", "/jobs")).json()["jobs"]
    assert len([j for j in jobs if j["settlementId"] == listed[0]["id"]]) == 2
