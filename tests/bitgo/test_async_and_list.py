"""Async allocations (the partner reports the outcome through BitGo's PUT routes) and BitGo's
partner allocations list, against the tiny partner on loopback."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from oeskit import signing
from tests.bitgo.conftest import connect, move
from tests.bitgo.tiny_partner import TinyPartner
from tests.conftest import EXCHANGE, Sandbox, partner_key

pytestmark = pytest.mark.anyio
V1 = "/api/network/v1/enterprises/ent-exchange/partners"
TOKEN = {"Authorization": "Bearer demo-exchange-token"}


def _update(
    sb: Sandbox, record: dict[str, Any], connection: dict[str, Any], status: str, **changes: Any
) -> dict[str, Any]:
    noun = record["type"]
    fields: dict[str, Any] = {
        f"{noun}Id": record["id"],
        "amount": record["amount"],
        "clientId": connection["clientId"],
        "connectionId": connection["id"],
        "partnersClientId": connection["partnersClientId"],
        "partnersConnectionId": connection["partnersConnectionId"],
        f"partners{noun.capitalize()}Id": record["partnerExternalId"],
        "status": status,
        "nonce": uuid.uuid4().hex,
    }
    if status == "released":
        fields["rejectReason"] = "open orders hold these funds"
    fields.update(changes)
    fields = {k: v for k, v in fields.items() if v is not None}
    payload = json.dumps(fields)
    key = partner_key(sb.world, EXCHANGE)
    return {**fields, "payload": payload, "signature": signing.sign_message(payload, key)}


async def _put(sb: Sandbox, noun: str, body: dict[str, Any]) -> httpx.Response:
    return await sb.client.put(f"{V1}/{noun}s", json=body, headers=TOKEN)


@pytest.fixture
async def async_sb(sb: Sandbox, partner: tuple[TinyPartner, str]) -> Sandbox:
    _, url = partner
    answer = await sb.admin(
        "PUT", f"/partners/{EXCHANGE}/hosted", json={"baseUrl": url, "asyncAllocations": True}
    )
    assert answer.json()["asyncAllocations"] is True
    return sb


async def test_async_allocation_waits_for_the_partners_update(
    async_sb: Sandbox, partner: tuple[TinyPartner, str]
) -> None:
    """No clear is sent; the allocation stays reserved until the partner's signed PUT clears
    it, which raises the balance; the same update again answers 200, the other status 409."""
    sb, (tiny, _) = async_sb, partner
    connection = await connect(sb)
    answer = await move(sb, connection["id"], "allocation", 30_000)
    record = answer.json()["allocation"]
    assert (record["status"], record["retriable"]) == ("reserved", False)
    assert answer.json()["balance"]["available"] == "0"
    assert not [s for s in tiny.seen if s.method == "PUT"]

    cleared = _update(sb, record, connection, "cleared")
    done = await _put(sb, "allocation", cleared)
    assert done.status_code == 200, done.text
    assert done.json()["allocationId"] == record["id"]
    assert done.json()["partnersAllocationId"] == record["partnerExternalId"]
    balances = (await sb.get(f"{V1}/balances")).json()["networkBalances"]
    assert balances[connection["id"]]["balances"]["BTC"]["available"] == "30000"
    again = await _put(sb, "allocation", _update(sb, record, connection, "cleared"))
    assert again.status_code == 200, again.text
    other = await _put(sb, "allocation", _update(sb, record, connection, "released"))
    assert (other.status_code, other.json()["rule"]) == (409, "OES-ALC-003")
    listed = (await sb.get(f"{V1}/allocations")).json()["allocations"]
    assert [(a["id"], a["status"]) for a in listed] == [(record["id"], "cleared")]


async def test_async_released_deallocation_returns_the_amount(
    async_sb: Sandbox, partner: tuple[TinyPartner, str]
) -> None:
    """A deallocation's amount leaves `available` at once; the partner's release returns it."""
    sb = async_sb
    connection = await connect(sb)
    first = await move(sb, connection["id"], "allocation", 50_000)
    await _put(sb, "allocation", _update(sb, first.json()["allocation"], connection, "cleared"))
    answer = await move(sb, connection["id"], "deallocation", 20_000)
    record = answer.json()["deallocation"]
    assert record["status"] == "reserved"
    assert answer.json()["balance"]["available"] == "30000"
    released = await _put(sb, "deallocation", _update(sb, record, connection, "released"))
    assert released.status_code == 200, released.text
    listed = await sb.get(f"{V1}/allocations", types="deallocation")
    [shown] = listed.json()["allocations"]
    assert (shown["status"], shown["reason"]) == ("released", "open orders hold these funds")
    balances = (await sb.get(f"{V1}/balances")).json()["networkBalances"]
    assert balances[connection["id"]]["balances"]["BTC"]["available"] == "50000"


@pytest.mark.parametrize(
    ("changes", "status", "rule"),
    [
        ({"amount": {"currency": "BTC", "quantity": "1"}}, 422, "OES-ALC-002"),
        ({"partnersConnectionId": "someone-else"}, 422, "OES-ALC-002"),
        ({"allocationId": "00000000-0000-4000-8000-000000000000"}, 404, "OES-ALC-001"),
        ({"rejectReason": "why not"}, 400, "OES-ALC-005"),
    ],
    ids=["amount", "partners-connection", "unknown-id", "reason-on-clear"],
)
async def test_a_wrong_update_is_refused_and_changes_nothing(
    async_sb: Sandbox,
    partner: tuple[TinyPartner, str],
    changes: dict[str, Any],
    status: int,
    rule: str,
) -> None:
    """Each refusal names its rule; the allocation stays reserved."""
    sb = async_sb
    connection = await connect(sb)
    record = (await move(sb, connection["id"], "allocation", 30_000)).json()["allocation"]
    answer = await _put(sb, "allocation", _update(sb, record, connection, "cleared", **changes))
    assert (answer.status_code, answer.json()["rule"]) == (status, rule), answer.text
    listed = (await sb.get(f"{V1}/allocations")).json()["allocations"]
    assert listed[0]["status"] == "reserved"


async def test_the_signature_binds_every_field(
    async_sb: Sandbox, partner: tuple[TinyPartner, str]
) -> None:
    """A field changed after signing is 400 OES-ALC-004; a signature by another key 401."""
    sb = async_sb
    connection = await connect(sb)
    record = (await move(sb, connection["id"], "allocation", 30_000)).json()["allocation"]
    body = _update(sb, record, connection, "cleared")
    tampered = await _put(sb, "allocation", {**body, "nonce": "another"})
    assert (tampered.status_code, tampered.json()["rule"]) == (400, "OES-ALC-004")
    forged = {
        **body,
        "signature": signing.sign_message(body["payload"], signing.generate(signing.ED25519)),
    }
    refused = await _put(sb, "allocation", forged)
    assert (refused.status_code, refused.json()["rule"]) == (401, "OES-SIG-004")


async def test_an_update_for_a_record_the_sandbox_clears_itself_is_409(
    sb: Sandbox, partner: tuple[TinyPartner, str]
) -> None:
    """Without async allocations the sandbox clears: a partner's release after it is 409."""
    connection = await connect(sb)
    record = (await move(sb, connection["id"], "allocation", 30_000)).json()["allocation"]
    assert record["status"] == "cleared"
    answer = await _put(sb, "allocation", _update(sb, record, connection, "released"))
    assert (answer.status_code, answer.json()["rule"]) == (409, "OES-ALC-003")


async def test_the_list_filters_sorts_and_pages(
    sb: Sandbox, partner: tuple[TinyPartner, str]
) -> None:
    """types, statuses, currencies, connectionIds, sortField/sortDirection and paging."""
    tiny, _ = partner
    one = await connect(sb, "good-1")
    two = await connect(sb, "good-2")
    await move(sb, one["id"], "allocation", 300)
    await move(sb, two["id"], "allocation", 100)
    await move(sb, one["id"], "deallocation", 200)
    tiny.reject_allocations = True
    await move(sb, two["id"], "allocation", 900)

    async def ids(**query: Any) -> list[tuple[str, str]]:
        answer = await sb.get(f"{V1}/allocations", **query)
        assert answer.status_code == 200, answer.text
        return [(a["type"], a["amount"]["quantity"]) for a in answer.json()["allocations"]]

    everything = [
        ("allocation", "300"),
        ("allocation", "100"),
        ("deallocation", "200"),
        ("allocation", "900"),
    ]
    assert await ids() == everything
    assert await ids(types="deallocation") == [("deallocation", "200")]
    assert await ids(statuses="released") == [("allocation", "900")]
    assert await ids(connectionIds=one["id"]) == [("allocation", "300"), ("deallocation", "200")]
    assert await ids(currencies="BTC") == everything
    assert await ids(currencies="ETH") == []
    assert await ids(sortField="quantity", sortDirection="DESC") == sorted(
        everything, key=lambda t: -int(t[1])
    )
    assert await ids(pageSize=2, pageNumber=1) == everything[2:]
    bad = await sb.get(f"{V1}/allocations", statuses="pending")
    assert (bad.status_code, bad.json()["rule"]) == (400, "OES-READ-002")
