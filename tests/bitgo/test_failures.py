"""How the sandbox as BitGo meets a failing partner: retries give up and the same request
resumes, a timeout is retried, a refusal or a redirect answers 502 with the partner's words."""

from __future__ import annotations

import pytest

from tests.bitgo.conftest import connect, move
from tests.bitgo.tiny_partner import TinyPartner
from tests.conftest import EXCHANGE, Sandbox

pytestmark = pytest.mark.anyio


async def test_after_three_failed_attempts_the_record_stays_reserved_and_resumes(
    sb: Sandbox, partner: tuple[TinyPartner, str]
) -> None:
    """Three 500s: reserved, retriable, the reason says why; the same request (its
    clientExternalId) sent again resumes with the same allocation id and clears it."""
    tiny, _ = partner
    connection = await connect(sb)
    tiny.fail_first = tiny.calls + 3
    first = await move(sb, connection["id"], "allocation", 9_000, clientExternalId="alloc-1")
    assert first.status_code == 200, first.text
    record = first.json()["allocation"]
    assert (record["status"], record["retriable"]) == ("reserved", True)
    assert "HTTP 500 after 3 attempt(s)" in record["reason"]
    assert first.json()["balance"]["available"] == "0"
    assert tiny.ids_seen("allocation") == [record["id"]] * 3

    again = await move(sb, connection["id"], "allocation", 9_000, clientExternalId="alloc-1")
    assert again.status_code == 200, again.text
    resumed = again.json()["allocation"]
    assert (resumed["id"], resumed["status"], resumed["retriable"]) == (
        record["id"],
        "cleared",
        False,
    )
    assert again.json()["balance"]["available"] == "9000"
    once_more = await move(sb, connection["id"], "allocation", 9_000, clientExternalId="alloc-1")
    assert once_more.json()["balance"]["available"] == "9000"  # a finished request: as it is


async def test_the_same_client_external_id_with_another_amount_is_refused(
    sb: Sandbox, partner: tuple[TinyPartner, str]
) -> None:
    """409 OES-SBX-004: one clientExternalId names one request on a connection."""
    connection = await connect(sb)
    await move(sb, connection["id"], "allocation", 1_000, clientExternalId="x-1")
    other = await move(sb, connection["id"], "allocation", 2_000, clientExternalId="x-1")
    assert other.status_code == 409, other.text
    assert other.json()["rule"] == "OES-SBX-004"


async def test_a_timeout_is_retried(sb: Sandbox, partner: tuple[TinyPartner, str]) -> None:
    """A first answer slower than --partner-timeout (1 s here) counts as no answer: retried."""
    tiny, _ = partner
    tiny.sleep_first_s = 1.5
    connection = await connect(sb)
    calls = (await sb.admin("GET", "/partner-calls")).json()["calls"]
    assert [(c["attempt"], c["outcome"]) for c in calls] == [(1, "transient"), (2, "answered")]
    assert "timed out" in calls[0]["error"]
    assert connection["partnersConnectionId"] == "acct-good-1"


async def test_a_refused_connection_answers_502_with_the_partners_words(
    sb: Sandbox, partner: tuple[TinyPartner, str]
) -> None:
    """An unknown token (the partner's 422): 502 OES-SBX-008 with its status and body, and no
    connection is left behind."""
    answer = await sb.admin(
        "POST", "/connections", json={"partnerId": EXCHANGE, "connectionToken": "bad-token"}
    )
    assert answer.status_code == 502, answer.text
    body = answer.json()
    assert (body["rule"], body["partnerStatus"], body["retriable"]) == ("OES-SBX-008", 422, False)
    assert "unknown connection token" in body["partnerBody"]
    count = sb.store.conn.execute("SELECT count(*) FROM connections WHERE token_digest IS NOT NULL")
    assert count.fetchone()[0] == 0


async def test_a_partner_that_never_answers_leaves_a_resumable_connection(
    sb: Sandbox, partner: tuple[TinyPartner, str]
) -> None:
    """Three 500s: 502 retriable with the connection id; the same token again links it."""
    tiny, _ = partner
    tiny.fail_first = 3
    failed = await sb.admin(
        "POST", "/connections", json={"partnerId": EXCHANGE, "connectionToken": "good-7"}
    )
    assert failed.status_code == 502, failed.text
    assert failed.json()["retriable"] is True
    connection = await connect(sb, "good-7")
    assert connection["id"] == failed.json()["connectionId"]
    again = await connect(sb, "good-7")  # linked: returned as it is, nothing sent
    assert again == connection
    assert len(tiny.seen) == 4


async def test_redirects_are_never_followed(sb: Sandbox, partner: tuple[TinyPartner, str]) -> None:
    """A 307 from the partner is a refusal (502), and its Location is never called."""
    tiny, _ = partner
    tiny.redirect = True
    answer = await sb.admin(
        "POST", "/connections", json={"partnerId": EXCHANGE, "connectionToken": "good-1"}
    )
    assert answer.status_code == 502, answer.text
    assert answer.json()["partnerStatus"] == 307
    assert "not followed" in answer.json()["error"] or "307" in answer.json()["error"]
    assert len(tiny.seen) == 1


async def test_a_partner_without_hosted_endpoints_is_refused(sb: Sandbox) -> None:
    """409 OES-SBX-004 naming the route that sets them; null forgets a base URL."""
    forget = await sb.admin("PUT", f"/partners/{EXCHANGE}/hosted", json={"baseUrl": None})
    assert forget.json() == {"partnerId": EXCHANGE, "baseUrl": None, "asyncAllocations": False}
    answer = await sb.admin(
        "POST", "/connections", json={"partnerId": EXCHANGE, "connectionToken": "good-1"}
    )
    assert answer.status_code == 409, answer.text
    assert answer.json()["rule"] == "OES-SBX-004"
    assert "/hosted" in answer.json()["error"]


async def test_allocating_on_a_connection_the_partner_never_linked_is_refused(
    sb: Sandbox,
) -> None:
    """A world connection without partnersConnectionId/partnersClientId: 409 before any call."""
    delta = "721f9163-d503-455a-a61a-66174cf4e215"
    answer = await move(sb, delta, "allocation", 1)
    assert answer.status_code == 409, answer.text
    assert "POST /sandbox/connections" in answer.json()["error"]


@pytest.mark.parametrize(
    "base_url",
    ["http://127.0.0.1:99999", "ftp://partner.test", "http://partner.test/?q=1", "http://"],
    ids=["port", "scheme", "query", "no-host"],
)
async def test_a_base_url_that_cannot_be_called_is_refused(sb: Sandbox, base_url: str) -> None:
    """400 OES-SBX-002 naming the URL: the sandbox never stores an address it cannot call."""
    answer = await sb.admin("PUT", f"/partners/{EXCHANGE}/hosted", json={"baseUrl": base_url})
    assert answer.status_code == 400, answer.text
    assert answer.json()["rule"] == "OES-SBX-002"
