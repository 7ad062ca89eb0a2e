"""The reference partner's business rules over HTTP: connections, allocations, deallocations,
clear and release, retries and the shared id space; each test asserts the body and the rule."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.hosted.conftest import Bitgo

pytestmark = pytest.mark.anyio


async def can_take_back(bitgo: Bitgo, connection: dict[str, Any], quantity: int) -> bool:
    """Whether a deallocation of `quantity` BTC is reserved now (it is released again, so the
    probe changes nothing)."""
    probe = bitgo.reservation("deallocation", connection, quantity)
    answer = (await bitgo.post("deallocation", probe)).json()
    if answer["status"] == "reserved":
        released = await bitgo.put("deallocation", probe["deallocationId"], "release")
        assert released.json()["status"] == "released"
        return True
    assert answer["status"] == "rejected"
    return False


async def free_balance_is(bitgo: Bitgo, connection: dict[str, Any], quantity: int) -> bool:
    """Observed from outside: `quantity` can be taken back, one unit more cannot."""
    more = not await can_take_back(bitgo, connection, quantity + 1)
    return more and (quantity == 0 or await can_take_back(bitgo, connection, quantity))


# ---- connections --------------------------------------------------------------------------


async def test_a_new_connection_answers_the_accounts_ids(bitgo: Bitgo) -> None:
    """A token of a new account: 200 echoing the BitGo ids with the account's ids (PH-CON-001)."""
    account = bitgo.accounts[0]
    request = bitgo.connection_request(account.connection_token)
    response = await bitgo.call("POST", "/bitgo/v1/connections", request)
    assert response.status_code == 200
    assert response.json() == {
        "clientId": request["clientId"],
        "connectionId": request["connectionId"],
        "partnersClientId": account.partners_client_id,
        "partnersConnectionId": account.partners_connection_id,
    }


async def test_an_identical_connection_retry_answers_the_same(bitgo: Bitgo) -> None:
    """The same connection request again: 200 with the same ids (PH-IDEM-001)."""
    request = bitgo.connection_request()
    first = await bitgo.call("POST", "/bitgo/v1/connections", request)
    again = await bitgo.call("POST", "/bitgo/v1/connections", request)
    assert (again.status_code, again.json()) == (200, first.json())


async def test_extra_request_properties_are_ignored(bitgo: Bitgo) -> None:
    """A property the contract does not name (clientWalletId) is accepted and ignored."""
    request = bitgo.connection_request(clientWalletId="wallet-1")
    response = await bitgo.call("POST", "/bitgo/v1/connections", request)
    assert response.status_code == 200
    assert "clientWalletId" not in response.json()


async def test_an_unknown_connection_token_answers_422(bitgo: Bitgo) -> None:
    """A token the partner never issued: 422 PH-CON-002."""
    response = await bitgo.call(
        "POST", "/bitgo/v1/connections", bitgo.connection_request("ct-never-issued")
    )
    assert response.status_code == 422
    assert response.json() == {"error": "unknown connection token", "rule": "PH-CON-002"}


async def test_a_second_connection_for_one_account_answers_409(bitgo: Bitgo) -> None:
    """The token of an account already connected, under a new connectionId: 409 PH-CON-003."""
    token = bitgo.next_token()
    first = bitgo.connection_request(token)
    assert (await bitgo.call("POST", "/bitgo/v1/connections", first)).status_code == 200
    second = await bitgo.call("POST", "/bitgo/v1/connections", bitgo.connection_request(token))
    assert second.status_code == 409
    assert second.json()["rule"] == "PH-CON-003"
    assert first["connectionId"] in second.json()["error"]


async def test_a_known_connection_id_with_another_token_answers_409(bitgo: Bitgo) -> None:
    """The same connectionId with another account's token: 409 PH-IDEM-002; that other
    account stays free to connect."""
    request = bitgo.connection_request()
    assert (await bitgo.call("POST", "/bitgo/v1/connections", request)).status_code == 200
    other_token = bitgo.next_token()
    changed = {**request, "connectionToken": other_token}
    response = await bitgo.call("POST", "/bitgo/v1/connections", changed)
    assert (response.status_code, response.json()["rule"]) == (409, "PH-IDEM-002")
    fresh = await bitgo.call("POST", "/bitgo/v1/connections", bitgo.connection_request(other_token))
    assert fresh.status_code == 200


async def test_a_foreign_partner_id_answers_400(bitgo: Bitgo) -> None:
    """A connection request for another partner: 400 PH-REQ-002; the token stays unused."""
    token = bitgo.next_token()
    foreign = bitgo.connection_request(token, partnerId=str(uuid.uuid4()))
    response = await bitgo.call("POST", "/bitgo/v1/connections", foreign)
    assert response.status_code == 400
    assert response.json()["rule"] == "PH-REQ-002"
    assert foreign["partnerId"] in response.json()["error"]
    good = await bitgo.call("POST", "/bitgo/v1/connections", bitgo.connection_request(token))
    assert good.status_code == 200


# ---- malformed bodies ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"amount": {"currency": "BTC", "quantity": "1.5"}}, "amount.quantity"),
        ({"amount": {"currency": "BTC", "quantity": "0"}}, "amount.quantity"),
        ({"amount": {"currency": "BTC", "quantity": "-5"}}, "amount.quantity"),
        ({"amount": {"currency": "BTC", "quantity": 100}}, "amount.quantity"),
        ({"amount": {"currency": "", "quantity": "100"}}, "amount.currency"),
        ({"allocationId": "not-a-uuid"}, "allocationId"),
        ({"partnersClientId": None}, "partnersClientId"),
        ({"clientId": None}, "body"),
    ],
    ids=["decimal", "zero", "negative", "number", "empty-currency", "bad-uuid", "null", "missing"],
)
async def test_a_body_off_the_schema_answers_400(
    bitgo: Bitgo, change: dict[str, Any], where: str
) -> None:
    """A body that breaks the contract's schema: 400 PH-REQ-001 naming where; nothing stored."""
    body = bitgo.reservation("allocation", await bitgo.connect(), 100)
    body.update(change)
    if change.get("clientId", "") is None:
        del body["clientId"]
    response = await bitgo.post("allocation", body)
    assert response.status_code == 400
    assert response.json()["rule"] == "PH-REQ-001"
    assert response.json()["error"].startswith(where)


@pytest.mark.parametrize(
    "raw", [b"{not json", b"[1, 2]", b"", b"\xff\xfe"], ids=["broken", "array", "empty", "not-utf8"]
)
async def test_a_body_that_is_not_a_json_object_answers_400(bitgo: Bitgo, raw: bytes) -> None:
    """Not JSON, or JSON that is not an object: 400 PH-REQ-001."""
    response = await bitgo.call("POST", "/bitgo/v1/deallocations", raw)
    assert (response.status_code, response.json()["rule"]) == (400, "PH-REQ-001")


# ---- allocations --------------------------------------------------------------------------


async def test_an_allocation_is_reserved_and_credits_nothing(bitgo: Bitgo) -> None:
    """A new allocation answers 200 reserved with a partnersAllocationId (PH-ALC-001); until it
    is cleared the client cannot take back even one unit."""
    connection = await bitgo.connect()
    body = bitgo.reservation("allocation", connection, 500)
    response = await bitgo.post("allocation", body)
    assert response.status_code == 200
    answer = response.json()
    assert answer == {
        **body,
        "partnersAllocationId": answer["partnersAllocationId"],
        "status": "reserved",
    }
    assert answer["partnersAllocationId"]
    assert await free_balance_is(bitgo, connection, 0)


async def test_clearing_an_allocation_credits_it(bitgo: Bitgo) -> None:
    """Clear answers 200 cleared (PH-ALC-002): the full amount can be taken back, no more."""
    connection = await bitgo.connect()
    body = bitgo.reservation("allocation", connection, 500)
    reserved = (await bitgo.post("allocation", body)).json()
    response = await bitgo.put("allocation", body["allocationId"], "clear")
    assert response.status_code == 200
    assert response.json() == {**reserved, "status": "cleared"}
    assert await free_balance_is(bitgo, connection, 500)


async def test_releasing_an_allocation_credits_nothing(bitgo: Bitgo) -> None:
    """Release answers 200 released (PH-ALC-003) and nothing is credited."""
    connection = await bitgo.connect()
    body = bitgo.reservation("allocation", connection, 500)
    await bitgo.post("allocation", body)
    response = await bitgo.put("allocation", body["allocationId"], "release")
    assert (response.status_code, response.json()["status"]) == (200, "released")
    assert await free_balance_is(bitgo, connection, 0)


async def test_an_identical_allocation_retry_changes_nothing(bitgo: Bitgo) -> None:
    """The same allocation three times: 200 with one partnersAllocationId (PH-IDEM-001), and
    once cleared it is credited once."""
    connection = await bitgo.connect()
    body = bitgo.reservation("allocation", connection, 300)
    answers = [(await bitgo.post("allocation", body)).json() for _ in range(3)]
    assert answers[0] == answers[1] == answers[2]
    await bitgo.put("allocation", body["allocationId"], "clear")
    assert await free_balance_is(bitgo, connection, 300)


@pytest.mark.parametrize("action", ["clear", "release"])
async def test_a_settled_allocation_sent_again_is_answered_as_it_is(
    bitgo: Bitgo, action: str
) -> None:
    """A cleared (or released) allocation posted again: 200 cleared (released), nothing is
    reserved or credited again (PH-IDEM-005)."""
    connection = await bitgo.connect()
    body = bitgo.reservation("allocation", connection, 300)
    await bitgo.post("allocation", body)
    settled = (await bitgo.put("allocation", body["allocationId"], action)).json()
    again = await bitgo.post("allocation", body)
    assert (again.status_code, again.json()) == (200, settled)
    assert await free_balance_is(bitgo, connection, 300 if action == "clear" else 0)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", {"currency": "BTC", "quantity": "301"}),
        ("amount", {"currency": "ETH", "quantity": "300"}),
    ],
    ids=["quantity", "currency"],
)
async def test_a_known_allocation_id_with_other_properties_answers_409(
    bitgo: Bitgo, field: str, value: Any
) -> None:
    """Same allocationId, other amount: 409 PH-IDEM-002 naming what differs; the stored stays."""
    connection = await bitgo.connect()
    body = bitgo.reservation("allocation", connection, 300)
    stored = (await bitgo.post("allocation", body)).json()
    response = await bitgo.post("allocation", {**body, field: value})
    assert response.status_code == 409
    assert response.json()["rule"] == "PH-IDEM-002"
    assert "amount." in response.json()["error"]
    assert (await bitgo.post("allocation", body)).json() == stored


@pytest.mark.parametrize(
    ("first", "second"), [("allocation", "deallocation"), ("deallocation", "allocation")]
)
async def test_allocation_and_deallocation_ids_share_one_index(
    bitgo: Bitgo, first: str, second: str
) -> None:
    """An id one kind holds, sent as the other kind: 409 PH-IDEM-003."""
    connection = await bitgo.funded(1000)
    body = bitgo.reservation(first, connection, 10)
    assert (await bitgo.post(first, body)).status_code == 200
    other = bitgo.reservation(second, connection, 10)
    other[f"{second}Id"] = body[f"{first}Id"]
    other.pop(f"{first}Id", None)
    response = await bitgo.post(second, other)
    assert response.status_code == 409
    assert response.json() == {
        "error": f"id {body[f'{first}Id']} is already used by {first}",
        "rule": "PH-IDEM-003",
    }


@pytest.mark.parametrize("kind", ["allocation", "deallocation"])
@pytest.mark.parametrize(
    "field", ["connectionId", "partnersConnectionId", "partnersClientId", "clientId"]
)
async def test_a_reservation_naming_an_unknown_or_other_connection_answers_404(
    bitgo: Bitgo, kind: str, field: str
) -> None:
    """An unknown connectionId, or partner ids / clientId that are not the connection's: 404
    PH-CON-004; nothing is stored."""
    connection = await bitgo.connect()
    other = await bitgo.connect()
    body = bitgo.reservation(kind, connection, 10)
    body[field] = str(uuid.uuid4()) if field == "connectionId" else other[field]
    response = await bitgo.post(kind, body)
    assert response.status_code == 404
    assert response.json()["rule"] == "PH-CON-004"
    missing = await bitgo.put(kind, body[f"{kind}Id"], "clear")
    assert missing.status_code == 404


# ---- deallocations ------------------------------------------------------------------------


async def test_a_covered_deallocation_is_reserved_and_holds_its_amount(bitgo: Bitgo) -> None:
    """A deallocation within the free balance: 200 reserved with a partnersDeallocationId
    (PH-DEA-001); the held amount leaves the free balance at once."""
    connection = await bitgo.funded(1000)
    body = bitgo.reservation("deallocation", connection, 400)
    response = await bitgo.post("deallocation", body)
    answer = response.json()
    assert response.status_code == 200
    assert answer == {
        **body,
        "partnersDeallocationId": answer["partnersDeallocationId"],
        "status": "reserved",
    }
    assert await free_balance_is(bitgo, connection, 600)


async def test_a_deallocation_beyond_the_free_balance_is_rejected_and_holds_nothing(
    bitgo: Bitgo,
) -> None:
    """One unit more than free: 200 rejected with a rejectionReason (PH-DEA-002); the whole
    balance is still free; sent again it stays rejected."""
    connection = await bitgo.funded(1000)
    body = bitgo.reservation("deallocation", connection, 1001)
    response = await bitgo.post("deallocation", body)
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"
    assert response.json()["rejectionReason"] == (
        "insufficient free balance: 1001 BTC requested, 1000 free"
    )
    assert await free_balance_is(bitgo, connection, 1000)
    again = await bitgo.post("deallocation", body)
    assert again.json() == response.json()


async def test_a_rejected_deallocation_stays_rejected_when_funds_arrive(bitgo: Bitgo) -> None:
    """A retry of a rejected deallocation after a new allocation cleared: still rejected."""
    connection = await bitgo.connect()
    body = bitgo.reservation("deallocation", connection, 50)
    assert (await bitgo.post("deallocation", body)).json()["status"] == "rejected"
    allocation = bitgo.reservation("allocation", connection, 100)
    await bitgo.post("allocation", allocation)
    await bitgo.put("allocation", allocation["allocationId"], "clear")
    assert (await bitgo.post("deallocation", body)).json()["status"] == "rejected"


async def test_balances_are_per_currency(bitgo: Bitgo) -> None:
    """BTC cleared does not cover an ETH deallocation."""
    connection = await bitgo.funded(1000, currency="BTC")
    body = bitgo.reservation("deallocation", connection, 1, currency="ETH")
    assert (await bitgo.post("deallocation", body)).json()["status"] == "rejected"


async def test_clearing_a_deallocation_debits_the_hold(bitgo: Bitgo) -> None:
    """Clear answers 200 cleared (PH-DEA-003): the amount is gone for good; releasing it
    afterwards is 409 and returns nothing."""
    connection = await bitgo.funded(1000)
    body = bitgo.reservation("deallocation", connection, 400)
    await bitgo.post("deallocation", body)
    response = await bitgo.put("deallocation", body["deallocationId"], "clear")
    assert (response.status_code, response.json()["status"]) == (200, "cleared")
    late = await bitgo.put("deallocation", body["deallocationId"], "release")
    assert (late.status_code, late.json()["rule"]) == (409, "PH-PUT-002")
    assert await free_balance_is(bitgo, connection, 600)


async def test_releasing_a_deallocation_returns_the_hold(bitgo: Bitgo) -> None:
    """Release answers 200 released (PH-DEA-004): the whole balance is free again."""
    connection = await bitgo.funded(1000)
    body = bitgo.reservation("deallocation", connection, 400)
    await bitgo.post("deallocation", body)
    response = await bitgo.put("deallocation", body["deallocationId"], "release")
    assert (response.status_code, response.json()["status"]) == (200, "released")
    assert await free_balance_is(bitgo, connection, 1000)


async def test_big_amounts_beyond_64_bits_are_exact(bitgo: Bitgo) -> None:
    """An 18-decimal asset's amounts (beyond SQLite's INTEGER) are kept and compared exactly."""
    big = 10**30 + 7
    connection = await bitgo.funded(big, currency="ETH")
    body = bitgo.reservation("deallocation", connection, big + 1, currency="ETH")
    assert (await bitgo.post("deallocation", body)).json()["status"] == "rejected"
    body = bitgo.reservation("deallocation", connection, big, currency="ETH")
    answer = (await bitgo.post("deallocation", body)).json()
    assert (answer["status"], answer["amount"]["quantity"]) == ("reserved", str(big))


# ---- clear and release --------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["allocation", "deallocation"])
@pytest.mark.parametrize("action", ["clear", "release"])
async def test_a_put_for_an_unknown_id_answers_404(bitgo: Bitgo, kind: str, action: str) -> None:
    """Clear or release of an id the partner never saw: 404 PH-PUT-001."""
    record_id = str(uuid.uuid4())
    response = await bitgo.put(kind, record_id, action)
    assert response.status_code == 404
    assert response.json() == {"error": f"no {kind} {record_id}", "rule": "PH-PUT-001"}


async def test_a_put_on_the_other_kinds_route_answers_404(bitgo: Bitgo) -> None:
    """An allocation's id on the deallocation clear route is unknown there: 404 PH-PUT-001."""
    connection = await bitgo.connect()
    body = bitgo.reservation("allocation", connection, 10)
    await bitgo.post("allocation", body)
    response = await bitgo.put("deallocation", body["allocationId"], "clear")
    assert (response.status_code, response.json()["rule"]) == (404, "PH-PUT-001")


@pytest.mark.parametrize(("done", "then"), [("release", "clear"), ("clear", "release")])
async def test_clear_after_release_and_release_after_clear_answer_409(
    bitgo: Bitgo, done: str, then: str
) -> None:
    """The opposite action on a settled allocation: 409 PH-PUT-002; the state stays."""
    connection = await bitgo.connect()
    body = bitgo.reservation("allocation", connection, 10)
    await bitgo.post("allocation", body)
    settled = (await bitgo.put("allocation", body["allocationId"], done)).json()
    response = await bitgo.put("allocation", body["allocationId"], then)
    assert response.status_code == 409
    assert response.json()["rule"] == "PH-PUT-002"
    assert (await bitgo.post("allocation", body)).json() == settled


@pytest.mark.parametrize("action", ["clear", "release"])
async def test_a_rejected_deallocation_cannot_be_cleared_or_released(
    bitgo: Bitgo, action: str
) -> None:
    """Clear or release of a rejected deallocation: 409 PH-PUT-002."""
    connection = await bitgo.connect()
    body = bitgo.reservation("deallocation", connection, 10)
    assert (await bitgo.post("deallocation", body)).json()["status"] == "rejected"
    response = await bitgo.put("deallocation", body["deallocationId"], action)
    assert response.status_code == 409
    assert response.json() == {
        "error": f"deallocation {body['deallocationId']} is rejected; it cannot be "
        f"{'cleared' if action == 'clear' else 'released'}",
        "rule": "PH-PUT-002",
    }


async def test_a_repeated_clear_answers_200_and_credits_once(bitgo: Bitgo) -> None:
    """Clear twice: 200 cleared both times with the same body (PH-PUT-003), credited once."""
    connection = await bitgo.connect()
    body = bitgo.reservation("allocation", connection, 70)
    await bitgo.post("allocation", body)
    first = await bitgo.put("allocation", body["allocationId"], "clear")
    second = await bitgo.put("allocation", body["allocationId"], "clear")
    assert (second.status_code, second.json()) == (200, first.json())
    assert await free_balance_is(bitgo, connection, 70)


async def test_a_repeated_release_of_a_deallocation_returns_the_hold_once(bitgo: Bitgo) -> None:
    """Release twice: 200 both times (PH-PUT-003); the hold comes back once, not twice."""
    connection = await bitgo.funded(100)
    body = bitgo.reservation("deallocation", connection, 60)
    await bitgo.post("deallocation", body)
    for _ in range(2):
        response = await bitgo.put("deallocation", body["deallocationId"], "release")
        assert (response.status_code, response.json()["status"]) == (200, "released")
    assert await free_balance_is(bitgo, connection, 100)


@pytest.mark.parametrize(
    "raw", [b'{"status": "released"}', b"garbage \xff", b"[]"], ids=["json", "garbage", "array"]
)
async def test_clear_ignores_any_body(bitgo: Bitgo, raw: bytes) -> None:
    """A clear with a body (even one saying released, or not JSON) is a plain clear (PH-PUT-004)."""
    connection = await bitgo.connect()
    body = bitgo.reservation("allocation", connection, 10)
    await bitgo.post("allocation", body)
    response = await bitgo.call("PUT", f"/bitgo/v1/allocation/{body['allocationId']}/clear", raw)
    assert (response.status_code, response.json()["status"]) == (200, "cleared")


# ---- the router ---------------------------------------------------------------------------


async def test_an_unknown_route_or_method_answers_json(bitgo: Bitgo) -> None:
    """No such route: 404 {error}; a GET on a POST route: 405 {error}."""
    missing = await bitgo.call("POST", "/bitgo/v1/nothing", {})
    assert (missing.status_code, missing.json()) == (404, {"error": "no such route"})
    wrong = await bitgo.call("GET", "/bitgo/v1/allocations")
    assert (wrong.status_code, wrong.json()) == (405, {"error": "method GET is not allowed here"})
