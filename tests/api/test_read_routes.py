"""The read routes a partner observes state with: settlement list (filters, paging, order),
settlement by id (transfer filters, paging), the signing payload, balances and disputes."""

from __future__ import annotations

from typing import Any

import pytest

from oeskit import signing
from tests.api.conftest import (
    BALANCES,
    BROKER,
    BROKER_ALPHA,
    BROKER_BETA,
    CLOSED_DISPUTE,
    DELTA,
    DISPUTES,
    GAMMA,
    PAST_SETTLEMENT,
    SETTLEMENTS,
    SIGNING,
    advance,
    get_with_commas,
    settlement_detail,
)
from tests.conftest import ALPHA, BETA, DEMO, EXCHANGE, Sandbox, partner_key

pytestmark = pytest.mark.anyio

ALPHA_NET = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
GAMMA_NET = "3604450d-442e-41c1-9c18-c3fcc33659b8"


async def stage_ok(sb: Sandbox, amounts: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    response = await sb.stage(sb.sign(sb.fields(amounts, **overrides)))
    assert response.status_code == 200, response.text
    settlement: dict[str, Any] = response.json()["settlement"]
    return settlement


async def listed(sb: Sandbox, **params: Any) -> list[str]:
    response = await get_with_commas(sb, SETTLEMENTS, **params)
    assert response.status_code == 200, response.text
    return [s["id"] for s in response.json()["settlements"]]


@pytest.fixture
async def three(sb: Sandbox) -> dict[str, dict[str, Any]]:
    """Three settlements five minutes apart: alpha pays; gamma pays; alpha pays beta (nested).
    The first carries the demo's closed dispute (a transfer to beta)."""
    s1 = await stage_ok(sb, {ALPHA: {"BTC": "-1"}}, externalId="ext-1")
    await advance(sb, 5)
    s2 = await stage_ok(sb, {GAMMA: {"BTC": "-1"}}, externalId="ext-2")
    await advance(sb, 5)
    s3 = await stage_ok(sb, {ALPHA: {BETA: {"BTC": "1"}}}, externalId="ext-3")
    return {"s1": s1, "s2": s2, "s3": s3}


# --- settlement list ---------------------------------------------------------------------------


async def test_list_is_ordered_by_creation(sb: Sandbox, three: dict[str, Any]) -> None:
    """Without filters the list holds every settlement of the partner, oldest first."""
    ids = [PAST_SETTLEMENT, three["s1"]["id"], three["s2"]["id"], three["s3"]["id"]]
    assert await listed(sb) == ids


async def test_list_orders_same_instant_by_id(sb: Sandbox) -> None:
    """Settlements created at the same instant (a frozen clock) come in id order."""
    made = [await stage_ok(sb, {ALPHA: {"BTC": f"-{n}"}}) for n in range(1, 5)]
    ids = await listed(sb, createdOnOrAfter=made[0]["createdAt"])
    assert ids == sorted(s["id"] for s in made)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"settlementIds": "{s1},{s3}"}, ["s1", "s3"]),
        ({"settlementIds": ["{s3}", "{s1}"]}, ["s1", "s3"]),
        ({"externalIds": "ext-2"}, ["s2"]),
        ({"externalIds": "ext-3,ext-1,nope"}, ["s1", "s3"]),
        ({"partyConnectionIds": GAMMA}, ["s2"]),
        ({"partyConnectionIds": BETA}, ["past", "s1", "s3"]),
        ({"partyConnectionIds": f"{GAMMA},{BETA}"}, ["past", "s1", "s2", "s3"]),
        ({"counterpartyConnectionIds": ALPHA}, ["s3"]),
        ({"counterpartyConnectionIds": GAMMA}, []),
        ({"onlyShowDisputed": "true"}, ["past"]),
        ({"onlyShowDisputed": "false"}, ["past", "s1", "s2", "s3"]),
        ({"createdOnOrAfter": "{s2.createdAt}"}, ["s2", "s3"]),
        ({"createdBefore": "{s2.createdAt}"}, ["past", "s1"]),
        ({"createdOnOrAfter": "{s1.createdAt}", "createdBefore": "{s3.createdAt}"}, ["s1", "s2"]),
        ({"updatedOnOrAfter": "{s3.createdAt}"}, ["s3"]),
        ({"updatedBefore": "{s1.createdAt}"}, ["past"]),
        ({"partyConnectionIds": BETA, "createdOnOrAfter": "{s2.createdAt}"}, ["s3"]),
        ({"partyConnectionIds": ALPHA, "createdOnOrAfter": "{s2.createdAt}"}, []),
        ({"pageSize": 2}, ["past", "s1"]),
        ({"pageSize": 2, "pageNumber": 1}, ["s2", "s3"]),
        ({"pageSize": 3, "pageNumber": 1}, ["s3"]),
        ({"pageSize": 2, "pageNumber": 2}, []),
    ],
    ids=[
        "ids-comma",
        "ids-repeated",
        "externalId",
        "externalIds-comma",
        "party-gamma",
        "party-beta",
        "party-two",
        "counterparty-alpha",
        "counterparty-none",
        "only-disputed",
        "disputed-false-filters-nothing",
        "created-from",
        "created-before",
        "created-range",
        "updated-from",
        "updated-before",
        "filters-combine",
        "filters-exclude",
        "page-0",
        "page-1",
        "page-partial",
        "page-past-end",
    ],
)
async def test_list_filters_and_pages(
    sb: Sandbox, three: dict[str, Any], params: dict[str, Any], expected: list[str]
) -> None:
    """Each filter keeps exactly the matching settlements (values OR, filters AND), in order;
    pages skip pageSize * pageNumber settlements."""
    names = {"past": PAST_SETTLEMENT, **{k: v["id"] for k, v in three.items()}}
    fill = {f"{{{k}}}": v["id"] for k, v in three.items()}
    fill.update({f"{{{k}.createdAt}}": v["createdAt"] for k, v in three.items()})

    def resolve(value: Any) -> Any:
        if isinstance(value, list):
            return [resolve(v) for v in value]
        text = str(value)
        for placeholder, real in fill.items():
            text = text.replace(placeholder, real)
        return text

    assert await listed(sb, **{k: resolve(v) for k, v in params.items()}) == [
        names[n] for n in expected
    ]


async def test_list_shows_current_status(sb: Sandbox, three: dict[str, Any]) -> None:
    """Listed settlements carry their current state: completed ones have finalizedAt."""
    await advance(sb, 90)
    settlements = (await sb.get(SETTLEMENTS, externalIds="ext-1")).json()["settlements"]
    assert [(s["status"], "finalizedAt" in s) for s in settlements] == [("completed", True)]


async def test_list_never_shows_another_partners_settlements(
    sb: Sandbox, three: dict[str, Any]
) -> None:
    """The broker sees none of the exchange's settlements, even by id."""
    response = await sb.get(
        "/api/network/v1/enterprises/ent-broker/partners/settlements",
        token="demo-broker-token",
        settlementIds=three["s1"]["id"],
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"settlements": []}


async def test_read_only_token_and_inactive_partner_can_read(sb: Sandbox) -> None:
    """Reading needs only the read scope, and an inactive partner may still read."""
    assert (await sb.get(SETTLEMENTS, token="demo-readonly-token")).status_code == 200
    inactive = await sb.get(
        "/api/network/v1/enterprises/ent-inactive/partners/settlements", token="demo-inactive-token"
    )
    assert (inactive.status_code, inactive.json()) == (200, {"settlements": []})


# --- settlement by id --------------------------------------------------------------------------


@pytest.fixture
async def wide(sb: Sandbox) -> dict[str, Any]:
    """One settlement with alpha (BTC, ETH), gamma (BTC), alpha->beta nested is another shape,
    so: alpha and gamma in shape A, plus the carried closure transfer to beta."""
    return await stage_ok(sb, {ALPHA: {"BTC": "-1", "ETH": "2"}, GAMMA: {"BTC": "-3"}})


def quantities(detail: dict[str, Any]) -> list[str]:
    return [t["quantity"] for t in detail["settlementTransfers"]]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["-1", "2", "-3", "-35000"]),
        ({"currencies": "ofceth"}, ["2"]),
        ({"currencies": "ofceth,ofcbtc"}, ["-1", "2", "-3", "-35000"]),
        ({"destinationNetworkAccountIds": GAMMA_NET}, ["-3"]),
        ({"destinationNetworkAccountIds": [GAMMA_NET, ALPHA_NET]}, ["-1", "2", "-3"]),
        ({"destinationTradingAccountIds": "beta-go-account"}, ["-35000"]),
        ({"sourceTradingAccountIds": "exchange-go-account"}, ["-1", "2", "-3", "-35000"]),
        ({"sourceNetworkAccountIds": ALPHA_NET}, []),
        ({"currencies": "ofcbtc", "destinationTradingAccountIds": "alpha-go-account"}, ["-1"]),
        ({"pageSize": 3}, ["-1", "2", "-3"]),
        ({"pageSize": 3, "pageNumber": 1}, ["-35000"]),
        ({"pageSize": 2, "pageNumber": 5}, []),
    ],
    ids=[
        "all",
        "currency",
        "currencies-comma",
        "destination-network",
        "destinations-repeated",
        "destination-trading",
        "source-trading",
        "source-network",
        "filters-combine",
        "page-0",
        "page-1",
        "page-past-end",
    ],
)
async def test_settlement_transfers_filter_and_page(
    sb: Sandbox, wide: dict[str, Any], params: dict[str, Any], expected: list[str]
) -> None:
    """Transfer filters and paging apply to the transfers of the settlement by id; the
    settlement itself and its disputes are always shown."""
    detail = await settlement_detail(sb, wide["id"], **params)
    assert quantities(detail) == expected
    assert detail["settlement"]["id"] == wide["id"]
    assert [d["id"] for d in detail["settlingDisputes"]] == [CLOSED_DISPUTE]


async def test_nested_transfers_filter_by_source_network_account(sb: Sandbox) -> None:
    """sourceNetworkAccountIds matches connection-to-connection transfers by their source."""
    settlement = await stage_ok(sb, {ALPHA: {BETA: {"BTC": "5"}}, GAMMA: {BETA: {"BTC": "6"}}})
    detail = await settlement_detail(sb, settlement["id"], sourceNetworkAccountIds=ALPHA_NET)
    assert quantities(detail) == ["5"]


async def test_settlement_by_id_lists_disputes_raised_on_it(
    sb: Sandbox, wide: dict[str, Any]
) -> None:
    """settlementDisputes holds the disputes clients raised on this settlement."""
    raised = await sb.admin(
        "POST", "/disputes", json={"settlementId": wide["id"], "connectionId": GAMMA}
    )
    assert raised.status_code == 200, raised.text
    detail = await settlement_detail(sb, wide["id"])
    assert [(d["id"], d["connectionId"], d["retracted"]) for d in detail["settlementDisputes"]] == [
        (raised.json()["dispute"]["id"], GAMMA, False)
    ]


# --- signing route -----------------------------------------------------------------------------


def signing_fields(sb: Sandbox) -> dict[str, Any]:
    return sb.fields(
        {BETA: {"XRP": "300", "BTC": "-400"}, ALPHA: {"BTC": "100", "ETH": "-200"}},
        notes="daily \u00e9t\u00e9 \u2603",
        cutoffAt="2026-11-01T00:00:00.000Z",
    )


async def test_signing_get_returns_the_canonical_payload(sb: Sandbox) -> None:
    """GET takes the fields as query parameters (amounts as JSON text) and returns exactly the
    canonical payload, keeping the amounts' key order."""
    fields = signing_fields(sb)
    import json

    response = await sb.get(
        SIGNING,
        externalId=fields["externalId"],
        notes=fields["notes"],
        nonce=fields["nonce"],
        cutoffAt=fields["cutoffAt"],
        settlementAmounts=json.dumps(fields["settlementAmounts"]),
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"payload": signing.canonical_payload(fields)}


async def test_signing_post_returns_the_canonical_payload(sb: Sandbox) -> None:
    """POST takes the fields as a JSON body and returns exactly the canonical payload."""
    fields = signing_fields(sb)
    response = await sb.client.post(
        SIGNING, json=fields, headers={"Authorization": "Bearer demo-exchange-token"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"payload": signing.canonical_payload(fields)}


async def test_a_body_signed_over_the_signing_routes_payload_stages(sb: Sandbox) -> None:
    """Signing the returned payload byte for byte (either scheme) gives a body that stages."""
    for scheme in ("ed25519", "bitcoin-message"):
        fields = signing_fields(sb)
        response = await sb.client.post(
            SIGNING, json=fields, headers={"Authorization": "Bearer demo-exchange-token"}
        )
        payload = response.json()["payload"]
        signature = signing.sign_message(payload, partner_key(sb.world, EXCHANGE, scheme))
        staged = await sb.stage({**fields, "payload": payload, "signature": signature})
        assert staged.status_code == 200, staged.text
        assert staged.json()["settlement"]["externalId"] == fields["externalId"]


async def test_signing_post_needs_the_write_scope(sb: Sandbox) -> None:
    """The signing POST requires read and write scopes; the GET only read."""
    fields = signing_fields(sb)
    post = await sb.client.post(
        SIGNING, json=fields, headers={"Authorization": "Bearer demo-readonly-token"}
    )
    assert (post.status_code, post.json()["rule"]) == (403, "OES-AUTH-002")
    import json

    get = await sb.get(
        SIGNING,
        token="demo-readonly-token",
        externalId="x",
        nonce="n",
        settlementAmounts=json.dumps({ALPHA: {"BTC": "1"}}),
    )
    assert get.status_code == 200, get.text


# --- balances ----------------------------------------------------------------------------------


async def test_balances_use_base_units_for_a_base_units_partner(sb: Sandbox) -> None:
    """The exchange sees integer base units under its own currency codes, for its connections
    and its own Go Account; a connection it has not initialized is not listed."""
    response = await sb.get(BALANCES)
    assert response.status_code == 200, response.text
    body = response.json()
    alpha = body["networkBalances"][ALPHA]
    assert (alpha["clientId"], alpha["partnerId"], alpha["partnersConnectionId"]) == (
        "client-alpha",
        EXCHANGE,
        "alpha-at-exchange",
    )
    assert alpha["balances"]["BTC"] == {"available": "500000000", "held": "0"}
    assert body["balances"]["ETH"] == {"available": "10000000000000000000000", "held": "0"}
    assert DELTA not in body["networkBalances"]
    assert BROKER_ALPHA not in body["networkBalances"]


async def test_uninitialized_connection_is_left_out_as_the_demo_world_says(
    sb: Sandbox,
) -> None:
    """A connection without partnersConnectionId is left out of the balances route, even when
    asked for by id: the reference makes the field a required string, never null (issue #18
    item 12). Every listed entry has it as a string, and demo.yaml's comment says the same."""
    response = await sb.get(BALANCES, connectionIds=DELTA)
    assert response.status_code == 200, response.text
    assert response.json()["networkBalances"] == {}
    everything = (await sb.get(BALANCES)).json()["networkBalances"]
    assert everything and all(
        isinstance(e["partnersConnectionId"], str) for e in everything.values()
    )
    text = DEMO.read_text()
    comment = text[: text.index(f"id: {DELTA}")].rsplit("\n\n", 1)[-1]
    comment = comment[comment.index("# delta@exchange") :]
    assert "leaves it out" in comment and "null`" not in comment


async def test_balances_use_decimals_for_a_full_units_partner(sb: Sandbox) -> None:
    """The broker sees full-unit decimals (trailing zeros dropped), held amounts included."""
    body = sb.sign(
        sb.fields(
            {
                BROKER_ALPHA: {"BTC": "-0.25", "USDT": "1.5"},
                BROKER_BETA: {"BTC": "0.25", "USDT": "-1.5"},
            }
        ),
        BROKER,
    )
    staged = await sb.stage(body, token="demo-broker-token", enterprise="ent-broker")
    assert staged.status_code == 200, staged.text
    response = await sb.get(
        "/api/network/v1/enterprises/ent-broker/partners/balances", token="demo-broker-token"
    )
    assert response.status_code == 200, response.text
    balances = response.json()["networkBalances"]
    assert balances[BROKER_ALPHA]["balances"]["BTC"] == {"available": "2.75", "held": "0.25"}
    assert balances[BROKER_BETA]["balances"]["USDT"] == {"available": "199998.5", "held": "1.5"}
    assert response.json()["balances"]["BTC"] == {"available": "10", "held": "0"}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"connectionIds": ALPHA}, [ALPHA]),
        ({"connectionIds": f"{ALPHA},{GAMMA}"}, [ALPHA, GAMMA]),
        ({"clientIds": "client-gamma"}, [GAMMA]),
        ({"pageSize": 1, "pageNumber": 0}, [ALPHA]),
    ],
    ids=["connection", "connections-comma", "client", "page"],
)
async def test_balances_filter_and_page(
    sb: Sandbox, params: dict[str, Any], expected: list[str]
) -> None:
    """Balances filter by connection and client and page over connections."""
    response = await get_with_commas(sb, BALANCES, **params)
    assert response.status_code == 200, response.text
    assert sorted(response.json()["networkBalances"]) == sorted(expected)


# --- disputes ----------------------------------------------------------------------------------


@pytest.fixture
async def disputes(sb: Sandbox) -> dict[str, str]:
    """The demo's closed dispute, an open one (gamma) and a retracted one (alpha) on a new
    settlement that carries the closed one."""
    settlement = await stage_ok(sb, {ALPHA: {"BTC": "-1"}, GAMMA: {"BTC": "-1"}})
    ids = {"closed": CLOSED_DISPUTE, "settlement": settlement["id"]}
    for name, connection in (("open", GAMMA), ("retracted", ALPHA)):
        await advance(sb, 1)  # distinct createdAt, so the order is known
        response = await sb.admin(
            "POST", "/disputes", json={"settlementId": settlement["id"], "connectionId": connection}
        )
        assert response.status_code == 200, response.text
        ids[name] = response.json()["dispute"]["id"]
    retracted = await sb.admin("POST", f"/disputes/{ids['retracted']}/retract", json={})
    assert retracted.status_code == 200, retracted.text
    return ids


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["closed", "open"]),
        ({"closed": "true"}, ["closed"]),
        ({"closed": "false"}, ["open"]),
        ({"showRetracted": "true"}, ["closed", "open", "retracted"]),
        ({"closed": "false", "showRetracted": "true"}, ["open", "retracted"]),
        ({"settlementIds": "{settlement}"}, ["open"]),
        ({"settlementIds": PAST_SETTLEMENT}, ["closed"]),
        ({"settledInSettlementIds": "{settlement}"}, ["closed"]),
        ({"connectionIds": GAMMA}, ["open"]),
        ({"connectionIds": f"{GAMMA},{BETA}"}, ["closed", "open"]),
        ({"disputeIds": "{retracted}", "showRetracted": "true"}, ["retracted"]),
        ({"pageSize": 1, "pageNumber": 1}, ["open"]),
    ],
    ids=[
        "default-hides-retracted",
        "closed",
        "open",
        "show-retracted",
        "open-and-retracted",
        "on-settlement",
        "on-past-settlement",
        "settled-in",
        "connection",
        "connections-comma",
        "by-id",
        "page",
    ],
)
async def test_disputes_filter(
    sb: Sandbox, disputes: dict[str, str], params: dict[str, Any], expected: list[str]
) -> None:
    """Dispute filters: closed true/false, retracted hidden unless showRetracted, by settlement,
    carrying settlement, connection and id; oldest first."""
    resolved = {k: str(v).format(**disputes) for k, v in params.items()}
    response = await get_with_commas(sb, DISPUTES, **resolved)
    assert response.status_code == 200, response.text
    assert [d["id"] for d in response.json()["disputes"]] == [disputes[n] for n in expected]


async def test_closed_dispute_shows_its_closure(sb: Sandbox) -> None:
    """A closed dispute carries its closure with the adjusted transfers, unassigned until the
    next settlement."""
    response = await sb.get(DISPUTES, closed="true")
    (dispute,) = response.json()["disputes"]
    closure = dispute["disputeClosure"]
    assert (closure["status"], closure["closedBy"], closure["adjustedTransfers"]) == (
        "approved",
        "admin",
        {"ofcbtc": "-35000"},
    )
    assert [(t["status"], "settlementId" in t) for t in closure["adjustedSettlementTransfers"]] == [
        ("pending_settlement_assignment", False)
    ]
    assert "settledInSettlementId" not in dispute
