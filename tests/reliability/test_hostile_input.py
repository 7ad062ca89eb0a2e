"""Hostile input to the staging route: each gets its documented 4xx, changes nothing, never 500.

Decisions recorded here: duplicate JSON keys resolve like JSON.parse (the last one wins), lone
surrogates are not JSON (400 OES-REQ-001, orjson refuses them), NUL characters are ordinary
string content (accepted and stored byte-exact).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest

from oeskit.doctor import examine
from tests.conftest import ALPHA, BETA, STAGE, Sandbox

pytestmark = pytest.mark.anyio

URL = STAGE.format(enterprise="ent-exchange")
JSON = {"Authorization": "Bearer demo-exchange-token", "Content-Type": "application/json"}
BIG = "1" + "0" * 80  # 10^80 base units


@pytest.fixture
def sandbox(shared_sandbox: Sandbox) -> Sandbox:
    """The module's shared sandbox, reset to the demo world (tests/reliability/conftest.py):
    these tests compare state before and after one request, never settings of their own."""
    return shared_sandbox


def _signed(sandbox: Sandbox, amounts: dict[str, Any], **overrides: Any) -> bytes:
    return orjson.dumps(sandbox.sign(sandbox.fields(amounts, **overrides)))


def _nested(depth: int) -> bytes:
    return (
        b'{"externalId":"deep","settlementAmounts":' + b'{"a":' * depth + b"1" + b"}" * depth + b"}"
    )


# id -> (body builder, extra headers, status, rule)
Build = Callable[[Sandbox], bytes]
CASES: dict[str, tuple[Build, dict[str, str], int, str]] = {
    "10k-nested-arrays": (lambda s: b"[" * 10_000 + b"]" * 10_000, {}, 400, "OES-REQ-001"),
    "10k-nested-objects": (lambda s: _nested(10_000), {}, 400, "OES-REQ-001"),
    "100k-connection-keys": (
        lambda s: _signed(s, {f"k{i}": {"BTC": "1"} for i in range(100_000)}),
        {},
        400,
        "OES-AMT-002",
    ),
    "100k-currency-keys": (
        lambda s: _signed(s, {ALPHA: {f"C{i}": "1" for i in range(100_000)}}),
        {},
        400,
        "OES-AMT-003",
    ),
    "10^80-liability": (lambda s: _signed(s, {ALPHA: {"BTC": "-" + BIG}}), {}, 422, "OES-BAL-001"),
    "minus-zero": (lambda s: _signed(s, {ALPHA: {"BTC": "-0"}}), {}, 400, "OES-AMT-005"),
    "exponent": (lambda s: _signed(s, {ALPHA: {"BTC": "1e5"}}), {}, 400, "OES-AMT-004"),
    "hex": (lambda s: _signed(s, {ALPHA: {"BTC": "0x10"}}), {}, 400, "OES-AMT-004"),
    "plus-sign": (lambda s: _signed(s, {ALPHA: {"BTC": "+10"}}), {}, 400, "OES-AMT-004"),
    "leading-space": (lambda s: _signed(s, {ALPHA: {"BTC": " 10"}}), {}, 400, "OES-AMT-004"),
    "fullwidth-digits": (lambda s: _signed(s, {ALPHA: {"BTC": "１０"}}), {}, 400, "OES-AMT-004"),
    "arabic-indic-digits": (lambda s: _signed(s, {ALPHA: {"BTC": "١٠"}}), {}, 400, "OES-AMT-004"),
    "number-not-string": (lambda s: _signed(s, {ALPHA: {"BTC": 10}}), {}, 400, "OES-AMT-001"),
    "cyrillic-currency": (lambda s: _signed(s, {ALPHA: {"ВТС": "10"}}), {}, 400, "OES-AMT-003"),
    "lookalike-connection": (
        lambda s: _signed(s, {ALPHA[:-1] + "９": {"BTC": "10"}}),
        {},
        400,
        "OES-AMT-002",
    ),
    "other-partners-connection": (
        lambda s: _signed(s, {"68620590-8722-4d72-9abc-86634b871a09": {"BTC": "10"}}),
        {},
        400,
        "OES-AMT-002",
    ),
    "invalid-utf8": (lambda s: b'{"externalId": "\xff\xfe"}', {}, 400, "OES-REQ-001"),
    "lone-surrogate": (
        lambda s: _signed(s, {ALPHA: {"BTC": "10"}}).replace(
            b'"externalId":"', b'"externalId":"\\ud800', 1
        ),
        {},
        400,
        "OES-REQ-001",
    ),
    "infinite-number": (lambda s: b'{"externalId": 1e999999}', {}, 400, "OES-REQ-001"),
    "not-an-object": (lambda s: b"[]", {}, 400, "OES-REQ-002"),
    "json-null": (lambda s: b"null", {}, 400, "OES-REQ-002"),
    "bad-cutoff": (
        lambda s: _signed(s, {ALPHA: {"BTC": "1"}}, cutoffAt="2026-13-45T99:00:00Z"),
        {},
        400,
        "OES-REQ-002",
    ),
    "text-plain": (
        lambda s: _signed(s, {ALPHA: {"BTC": "1"}}),
        {"Content-Type": "text/plain"},
        415,
        "OES-REQ-006",
    ),
    "form-encoded": (
        lambda s: _signed(s, {ALPHA: {"BTC": "1"}}),
        {"Content-Type": "application/x-www-form-urlencoded"},
        415,
        "OES-REQ-006",
    ),
    "vendor-json": (
        lambda s: _signed(s, {ALPHA: {"BTC": "1"}}),
        {"Content-Type": "application/vnd.evil+json"},
        415,
        "OES-REQ-006",
    ),
    "no-content-type": (
        lambda s: _signed(s, {ALPHA: {"BTC": "1"}}),
        {"Content-Type": ""},
        415,
        "OES-REQ-006",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
async def test_hostile_body_is_refused_without_effect(sandbox: Sandbox, case: str) -> None:
    """Each hostile body gets its documented status and rule, quickly, and no state changes."""
    build, headers, status, rule = CASES[case]
    content = build(sandbox)
    before = sandbox.snapshot()
    started = time.monotonic()
    merged = {k: v for k, v in {**JSON, **headers}.items() if v}
    response = await sandbox.client.post(URL, content=content, headers=merged)
    assert time.monotonic() - started < 15
    assert (response.status_code, response.json()["rule"]) == (status, rule), response.text
    assert len(response.text) < 2_000  # the message never echoes the hostile body
    assert sandbox.snapshot() == before


async def test_oversized_body_is_413(sandbox: Sandbox) -> None:
    """A streamed body past the 32 MiB limit is cut off with 413 OES-REQ-003."""

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(34):
            yield b" " * (1024 * 1024)

    before = sandbox.snapshot()
    response = await sandbox.client.post(URL, content=chunks(), headers=JSON)
    assert response.status_code == 413
    assert response.json() == {
        "error": "the body exceeds the 33554432-byte limit",
        "rule": "OES-REQ-003",
    }
    assert sandbox.snapshot() == before


async def test_declared_oversized_length_is_413_before_reading(sandbox: Sandbox) -> None:
    """A Content-Length above the limit is refused without waiting for the body."""
    response = await sandbox.client.post(
        URL, content=b"{}", headers={**JSON, "Content-Length": "99999999999"}
    )
    assert (response.status_code, response.json()["rule"]) == (413, "OES-REQ-003")


async def test_duplicate_keys_last_one_wins(sandbox: Sandbox) -> None:
    """Duplicate JSON keys resolve like JSON.parse: the last value is the one staged."""
    body = _signed(sandbox, {ALPHA: {"BTC": "-7"}}, externalId="dup-last")
    response = await sandbox.client.post(
        URL, content=b'{"externalId":"dup-first",' + body[1:], headers=JSON
    )
    assert response.status_code == 200, response.text
    assert response.json()["settlement"]["externalId"] == "dup-last"
    listed = await sandbox.get(
        "/api/network/v1/enterprises/ent-exchange/partners/settlements", externalIds="dup-first"
    )
    assert listed.json()["settlements"] == []


async def test_duplicate_key_overriding_signed_value_is_a_mismatch(sandbox: Sandbox) -> None:
    """A later duplicate that changes a signed field is caught by the payload binding."""
    body = _signed(sandbox, {ALPHA: {"BTC": "-7"}})
    tampered = body[:-1] + b',"settlementAmounts":{"' + BETA.encode() + b'":{"BTC":"-7"}}}'
    before = sandbox.snapshot()
    response = await sandbox.client.post(URL, content=tampered, headers=JSON)
    assert (response.status_code, response.json()["rule"]) == (400, "OES-SIG-003"), response.text
    assert sandbox.snapshot() == before


async def test_nul_characters_round_trip(sandbox: Sandbox) -> None:
    """NUL is ordinary string content: stored and returned byte-exact, never truncated."""
    body = sandbox.sign(
        sandbox.fields({ALPHA: {"BTC": "-3"}}, externalId="nul\x00id", notes="before\x00after")
    )
    staged = await sandbox.stage(body)
    assert staged.status_code == 200, staged.text
    settlement = staged.json()["settlement"]
    assert (settlement["externalId"], settlement["notes"]) == ("nul\x00id", "before\x00after")
    again = await sandbox.get(
        "/api/network/v1/enterprises/ent-exchange/partners/settlements/" + settlement["id"]
    )
    assert again.json()["settlement"]["notes"] == "before\x00after"


async def test_huge_credit_stages_and_fails_at_execution_not_500(sandbox: Sandbox) -> None:
    """10^80 owed to a client is accepted (no connection liability), then fails for lack of
    partner funds with a reason; nothing overflows."""
    staged = await sandbox.stage(sandbox.sign(sandbox.fields({ALPHA: {"BTC": BIG}})))
    assert staged.status_code == 200, staged.text
    advanced = await sandbox.admin("POST", "/clock", json={"advanceMinutes": 90})
    assert advanced.status_code == 200
    got = await sandbox.get(
        "/api/network/v1/enterprises/ent-exchange/partners/settlements/"
        + staged.json()["settlement"]["id"]
    )
    settlement = got.json()["settlement"]
    assert settlement["status"] == "failed"
    # The demo's settling dispute (beta pays 35000 sat back) nets against the credit.
    assert f"ofcbtc (required {10**80 - 35000}, available" in settlement["reason"]
    assert examine(sandbox.store.conn).violations == ()


@pytest.mark.parametrize(
    ("path", "status", "rule"),
    [
        ("/api/network/v1/enterprises/ent-exchange/partners/settlements/a%0Ab", 404, "OES-REQ-004"),
        ("/api/network/v1/enterprises/ent-exchange/partners/settlements/a%2Fb", 404, "OES-REQ-004"),
        (
            "/api/network/v1/enterprises/ent-exchange/partners/settlements/..%2F..%2Fsandbox%2Freset",
            404,
            "OES-REQ-004",
        ),
        ("/api/network/v1/enterprises/ent-exchange/partners/settlements/%00", 400, "OES-READ-002"),
        ("/api/network/v1/enterprises/ent-exchange%00/partners/settlements", 401, "OES-AUTH-003"),
        ("/api/network/v1/enterprises/ent%2Fexchange/partners/settlements", 404, "OES-REQ-004"),
    ],
    ids=["newline", "slash", "traversal", "nul-id", "nul-enterprise", "slash-enterprise"],
)
async def test_hostile_path_parameters(sandbox: Sandbox, path: str, status: int, rule: str) -> None:
    """Newlines, encoded slashes and NULs in path parameters never reach another route."""
    before = sandbox.snapshot()
    response = await sandbox.client.get(path, headers=JSON)
    assert (response.status_code, response.json()["rule"]) == (status, rule), response.text
    assert sandbox.snapshot() == before


async def test_nothing_hostile_was_a_server_error(sandbox: Sandbox) -> None:
    """The request log of a hostile burst holds no 5xx."""
    for case in ("10k-nested-arrays", "lone-surrogate", "no-content-type", "invalid-utf8"):
        build, headers, _, _ = CASES[case]
        merged = {k: v for k, v in {**JSON, **headers}.items() if v}
        await sandbox.client.post(URL, content=build(sandbox), headers=merged)
    log = await sandbox.admin("GET", "/requests")
    statuses = [r["status"] for r in log.json()["requests"]]
    assert statuses and all(s < 500 for s in statuses), json.dumps(log.json())


DEPTHS = (100, 256, 1024, 100_000)
SIGNING_POST = "/api/network/v1/enterprises/ent-exchange/partners/settlements-signing"
ADMIN_JSON = {"Authorization": "Bearer test-admin-token", "Content-Type": "application/json"}


def _deep_array(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _deep_member(sandbox: Sandbox, depth: int, where: str) -> bytes:
    """A body whose member `where` holds arrays nested `depth` deep: an unknown member of an
    otherwise valid, signed staging body, or the settlementAmounts of a request to sign."""
    if where == "extra":
        signed = orjson.dumps(sandbox.sign(sandbox.fields()))
        return signed[:-1] + b',"extra":' + _deep_array(depth) + b"}"
    return b'{"externalId":"deep","settlementAmounts":' + _deep_array(depth) + b"}"


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize(
    ("route", "where"),
    [
        (URL, "extra"),
        (URL, "settlementAmounts"),
        (URL, "root"),
        (SIGNING_POST, "settlementAmounts"),
        ("/sandbox/world", "root"),
        ("/sandbox/world", "settlementAmounts"),
        ("/sandbox/sign?enterpriseId=ent-exchange", "settlementAmounts"),
    ],
    ids=["v2-extra", "v2-amounts", "v2-root", "signing", "world-root", "world-member", "sign"],
)
async def test_deep_nesting_is_400_req_001_at_every_depth(
    sandbox: Sandbox, route: str, where: str, depth: int
) -> None:
    """JSON nested 100 to 100,000 deep is refused 400 OES-REQ-001 on every route that takes a
    body (it answered 500 from 256 deep: the validator's recursion limit), and changes nothing."""
    before = sandbox.snapshot()
    body = _deep_array(depth) if where == "root" else _deep_member(sandbox, depth, where)
    headers = ADMIN_JSON if route.startswith("/sandbox") else JSON
    response = await sandbox.client.post(route, content=body, headers=headers)
    assert (response.status_code, response.json()["rule"]) == (400, "OES-REQ-001"), response.text
    assert "nest" in response.json()["error"] or "depth" in response.json()["error"]
    assert sandbox.snapshot() == before


@pytest.mark.parametrize("depth", (100, 256, 1024, 5000))  # 5000: near httpx's URL limit
async def test_deep_settlement_amounts_on_the_signing_get_is_400(
    sandbox: Sandbox, depth: int
) -> None:
    """The GET signing route's settlementAmounts query (JSON text) nested deep is refused 400
    with the parameter rule OES-READ-002, never a 500."""
    response = await sandbox.get(
        SIGNING_POST, externalId="deep", settlementAmounts=_deep_array(depth).decode()
    )
    assert (response.status_code, response.json()["rule"]) == (400, "OES-READ-002"), response.text


async def test_request_log_shows_a_deeply_nested_body(sandbox: Sandbox) -> None:
    """A refused body nested 1000 deep is logged and /sandbox/requests still answers 200 (its
    fingerprint cannot be computed: orjson writes at most 255 levels)."""
    body = b'{"externalId":"deep","settlementAmounts":' + _deep_array(1000) + b"}"
    refused = await sandbox.client.post(URL, content=body, headers=JSON)
    assert refused.json()["rule"] == "OES-REQ-001"
    log = await sandbox.admin("GET", "/requests", params={"limit": 5})
    assert log.status_code == 200, log.text
    assert log.json()["requests"][0]["externalId"] == "deep"
