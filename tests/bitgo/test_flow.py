"""The sandbox as BitGo against a partner's own endpoints (a tiny partner written apart, on a
real loopback server): connect, allocate, stage against the cleared balance, deallocate."""

from __future__ import annotations

from typing import Any

import pytest

from tests.bitgo.conftest import connect, move
from tests.bitgo.tiny_partner import TinyPartner
from tests.conftest import Sandbox

pytestmark = pytest.mark.anyio


def _stage_fields(sandbox: Sandbox, connection_id: str, liability: int) -> dict[str, Any]:
    return sandbox.sign(sandbox.fields({connection_id: {"BTC": str(-liability)}}))


async def test_connect_allocate_stage_with_a_partner_that_fails_first(
    sb: Sandbox, partner: tuple[TinyPartner, str]
) -> None:
    """A partner answering 500 to its first call: the connection is retried with the same id,
    the allocation clears and raises the balance, staging is checked against it (422 above,
    200 within), and every call carried a valid RS256 token with its own jti."""
    tiny, _ = partner
    tiny.fail_first = 1
    connection = await connect(sb)
    assert connection["partnersConnectionId"] == "acct-good-1"
    assert connection["partnersClientId"] == "user-good-1"
    connects = [s for s in tiny.seen if s.path == "/bitgo/v1/connections"]
    assert [s.status for s in connects] == [500, 200]
    assert {s.body["connectionId"] for s in connects if s.body} == {connection["id"]}

    allocated = await move(sb, connection["id"], "allocation", 100_000)
    assert allocated.status_code == 200, allocated.text
    body = allocated.json()
    assert body["allocation"]["status"] == "cleared"
    assert body["allocation"]["partnerExternalId"] == "p-1"
    assert body["allocation"]["amount"] == {"currency": "BTC", "quantity": "100000"}
    assert body["balance"] == {"available": "100000", "held": "0"}
    assert [s.path for s in tiny.seen[2:]] == [
        "/bitgo/v1/allocations",
        f"/bitgo/v1/allocation/{body['allocation']['id']}/clear",
    ]

    too_much = await sb.stage(_stage_fields(sb, connection["id"], 150_000))
    assert too_much.status_code == 422, too_much.text
    assert too_much.json()["rule"] == "OES-BAL-001"
    within = await sb.stage(_stage_fields(sb, connection["id"], 60_000))
    assert within.status_code == 200, within.text

    assert all(s.problem is None and s.claims for s in tiny.seen)
    jtis = [s.claims["jti"] for s in tiny.seen if s.claims]
    assert len(jtis) == len(set(jtis)) == 4
    for s in tiny.seen:
        assert s.claims is not None
        assert 0 < s.claims["exp"] - s.claims["iat"] <= 60


async def test_allocation_retried_with_the_same_id_after_a_500(
    sb: Sandbox, partner: tuple[TinyPartner, str]
) -> None:
    """A 500 to the allocation POST is retried with the same allocationId and a fresh jti."""
    tiny, _ = partner
    connection = await connect(sb)
    tiny.fail_first = tiny.calls + 1
    allocated = await move(sb, connection["id"], "allocation", 5_000)
    assert allocated.json()["allocation"]["status"] == "cleared"
    posts = [s for s in tiny.seen if s.path == "/bitgo/v1/allocations"]
    assert [s.status for s in posts] == [500, 200]
    assert posts[0].body == posts[1].body
    assert posts[0].claims and posts[1].claims
    assert posts[0].claims["jti"] != posts[1].claims["jti"]


async def test_a_rejecting_partner_leaves_the_balance_unchanged(
    sb: Sandbox, partner: tuple[TinyPartner, str]
) -> None:
    """An allocation the partner rejects ends released with its reason; no clear is sent."""
    tiny, _ = partner
    tiny.reject_allocations = True
    connection = await connect(sb)
    answer = await move(sb, connection["id"], "allocation", 70_000)
    assert answer.status_code == 200, answer.text
    record = answer.json()["allocation"]
    assert record["status"] == "released"
    assert record["reason"] == "allocations are closed today"
    assert answer.json()["balance"] == {"available": "0", "held": "0"}
    assert not [s for s in tiny.seen if s.method == "PUT"]


async def test_a_cleared_deallocation_lowers_the_balance(
    sb: Sandbox, partner: tuple[TinyPartner, str]
) -> None:
    """Deallocation: held at the partner, cleared, and the amount leaves the balance."""
    tiny, _ = partner
    connection = await connect(sb)
    await move(sb, connection["id"], "allocation", 100_000)
    answer = await move(sb, connection["id"], "deallocation", 40_000)
    assert answer.status_code == 200, answer.text
    assert answer.json()["deallocation"]["status"] == "cleared"
    assert answer.json()["balance"] == {"available": "60000", "held": "0"}
    assert tiny.seen[-1].path.startswith("/bitgo/v1/deallocation/")
    assert tiny.seen[-1].path.endswith("/clear")


async def test_a_deallocation_beyond_the_balance_is_refused_before_any_call(
    sb: Sandbox, partner: tuple[TinyPartner, str]
) -> None:
    """422 OES-SBX-009 naming the available balance; the partner hears nothing of it."""
    tiny, _ = partner
    connection = await connect(sb)
    await move(sb, connection["id"], "allocation", 10_000)
    before = len(tiny.seen)
    answer = await move(sb, connection["id"], "deallocation", 10_001)
    assert answer.status_code == 422, answer.text
    assert answer.json()["rule"] == "OES-SBX-009"
    assert answer.json()["available"] == "10000"
    assert len(tiny.seen) == before


async def test_a_jwt_is_never_shown_in_partner_calls_or_the_request_log(
    sb: Sandbox, partner: tuple[TinyPartner, str]
) -> None:
    """partner-calls lists each attempt with its jti and a redacted signature; the request
    log shows the calls as outbound; no token text appears in either."""
    tiny, url = partner
    tiny.fail_first = 1
    connection = await connect(sb)
    calls = (await sb.admin("GET", "/partner-calls")).json()["calls"]
    assert [(c["method"], c["path"], c["attempt"], c["status"]) for c in calls] == [
        ("POST", "/bitgo/v1/connections", 1, 500),
        ("POST", "/bitgo/v1/connections", 2, 200),
    ]
    assert all(
        c["signature"] == "***redacted***" and c["subjectId"] == connection["id"] for c in calls
    )
    assert [c["jti"] for c in calls] == [s.claims["jti"] for s in tiny.seen if s.claims]
    log = (await sb.admin("GET", "/requests")).json()["requests"]
    outbound = [r for r in log if r.get("outbound")]
    assert {r["path"] for r in outbound} == {f"{url}/bitgo/v1/connections"}
    everything = str(calls) + str(log)
    assert "eyJ" not in everything  # no JWT (its header always starts so)


async def test_the_key_a_partner_is_given_verifies_every_call(
    sb: Sandbox, partner: tuple[TinyPartner, str]
) -> None:
    """GET /sandbox/bitgo-key is the public half of the key the calls are signed with."""
    tiny, _ = partner
    await connect(sb)
    key = (await sb.admin("GET", "/bitgo-key")).json()["publicKey"]
    assert key.startswith("-----BEGIN PUBLIC KEY-----")
    assert tiny.seen and all(s.claims is not None for s in tiny.seen)
    assert key == tiny.public_pem  # the key every call above was verified with
