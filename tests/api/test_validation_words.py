"""Refusals of the schema are said in our words (issue #18, items 8, 13, 14, 15): the JSON
pointer of the field, what the contract expects there, what was sent, and the rule; never the
validator's own dump ("Failed validating ... in schema: {...} On instance: ...")."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.api.conftest import SETTLEMENTS, SIGNING
from tests.conftest import ALPHA, STAGE, Sandbox

pytestmark = pytest.mark.anyio
EXCHANGE_STAGE = STAGE.format(enterprise="ent-exchange")
TOKEN = {"Authorization": "Bearer demo-exchange-token"}
INTERNALS = ("Failed validating", "in schema", "On instance", "{'type'", "is not of type")


def _refused(response: httpx.Response, rule: str) -> str:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["rule"] == rule, body
    assert set(body) == {"error", "rule"}, body
    message: str = body["error"]
    assert not any(word in message for word in INTERNALS), message
    return message


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"pageNumber": ""}, 'query parameter pageNumber: expected an integer, got ""'),
        ({"pageSize": "0"}, "query parameter pageSize: expected a number >= 1, got 0"),
        ({"pageSize": "1001"}, "query parameter pageSize: expected a number <= 1000, got 1001"),
        (
            {"createdBefore": "x"},
            "query parameter createdBefore: expected an RFC 3339 date-time with a zone, "
            'e.g. 2025-06-01T00:00:00.000Z, got "x"',
        ),
        (
            {"onlyShowDisputed": "maybe"},
            'query parameter onlyShowDisputed: expected a boolean (true or false), got "maybe"',
        ),
        (
            {"settlementIds": ["4b44a80b-871e-48fe-a8d3-331463871ce7", "nope"]},
            'query parameter settlementIds: expected a UUID (8-4-4-4-12 hex digits), got "nope"',
        ),
        (
            {"externalIds": ["a", ""]},
            'query parameter externalIds (value 2): expected a non-empty string, got ""',
        ),
    ],
    ids=["empty-integer", "below-minimum", "above-maximum", "date-time", "boolean", "uuid", "item"],
)
async def test_query_refusals_say_what_was_expected(
    sb: Sandbox, params: dict[str, Any], expected: str
) -> None:
    """Each kind of malformed query parameter is named, with what was expected and sent."""
    assert _refused(await sb.get(SETTLEMENTS, **params), "OES-READ-002") == expected


@pytest.mark.parametrize(
    ("change", "expected", "rule"),
    [
        ({"notes": 17}, "body field /notes: expected a string, got 17", "OES-REQ-002"),
        ({"notes": ""}, 'body field /notes: expected a non-empty string, got ""', "OES-REQ-002"),
        (
            {"cutoffAt": "soon"},
            "body field /cutoffAt: expected an RFC 3339 date-time with a zone, "
            'e.g. 2025-06-01T00:00:00.000Z, got "soon"',
            "OES-REQ-002",
        ),
        (
            {"notes": "n" * 10_001},
            "body field /notes: expected a string of at most 10000 characters, "
            "got a string of 10001 characters",
            "OES-REQ-009",
        ),
    ],
    ids=["type", "empty", "format", "too-long"],
)
async def test_body_refusals_name_the_field_by_its_pointer(
    sb: Sandbox, change: dict[str, Any], expected: str, rule: str
) -> None:
    """A body that breaks the schema is answered with the field's JSON pointer, what the
    contract expects there and a short account of what came."""
    body = {**sb.sign(sb.fields()), **change}
    assert _refused(await sb.stage(body), rule) == expected


async def test_a_missing_property_is_pointed_at(sb: Sandbox) -> None:
    """A missing required property is named by its own pointer."""
    body = sb.sign(sb.fields())
    del body["nonce"]
    assert _refused(await sb.stage(body), "OES-REQ-002") == (
        "body field /nonce: is required but missing"
    )


async def test_an_oversized_amount_is_named_not_the_shapes(sb: Sandbox) -> None:
    """An amount past its bound fails both shapes of settlementAmounts; the answer names the
    amount's bound and pointer, not "neither shape"."""
    body = sb.sign(sb.fields({ALPHA: {"BTC": "1" * 1001}}))
    assert _refused(await sb.stage(body), "OES-REQ-009") == (
        f"body field /settlementAmounts/{ALPHA}/BTC: expected a string of at most 1000 "
        "characters, got a string of 1001 characters"
    )


async def test_megabytes_of_notes_are_refused_and_not_stored(sb: Sandbox) -> None:
    """A signed body with 15 MiB of `notes` (30 MiB with its payload, under the 32 MiB body
    limit; the probe stored such a body) is refused 400 OES-REQ-009 and stores nothing. The
    fast lane answers it; tests/api/test_fastlane.py proves connexion answers alike."""
    body = sb.sign(sb.fields(notes="n" * (15 * 1024 * 1024)))
    before = sb.snapshot()
    message = _refused(
        await sb.client.post(EXCHANGE_STAGE, json=body, headers=TOKEN), "OES-REQ-009"
    )
    assert message == (
        "body field /notes: expected a string of at most 10000 characters, "
        "got a string of 15728640 characters"
    )
    assert sb.snapshot() == before


@pytest.mark.parametrize(
    "query",
    [
        "pageNumber=abc&pageNumber=0",
        "pageNumber=0&pageNumber=abc",
        "pageSize=5&pageSize=5",
        "onlyShowDisputed=true&onlyShowDisputed=false",
    ],
)
async def test_a_repeated_scalar_parameter_is_refused(sb: Sandbox, query: str) -> None:
    """A scalar query parameter sent twice is refused 400 OES-READ-002 whatever its values:
    connexion would read only the last one (`?pageNumber=abc&pageNumber=0` was a 200)."""
    response = await sb.client.get(f"{SETTLEMENTS}?{query}", headers=TOKEN)
    name = query.partition("=")[0]
    assert _refused(response, "OES-READ-002") == (
        f"query parameter {name} is given 2 times: send it once"
    )


async def test_a_repeated_array_parameter_is_still_a_list(sb: Sandbox) -> None:
    """Repeating an array parameter stays the documented way to send several values."""
    response = await sb.client.get(
        f"{SETTLEMENTS}?externalIds=demo-2026-11-20&externalIds=other", headers=TOKEN
    )
    assert response.status_code == 200, response.text
    assert [s["externalId"] for s in response.json()["settlements"]] == ["demo-2026-11-20"]


@pytest.mark.parametrize(
    ("amounts", "rule", "expected"),
    [
        (
            "[1, 2]",
            "OES-READ-002",
            'query parameter settlementAmounts: expected the JSON text of an object, got "[1, 2]"',
        ),
        (
            "{not json}",
            "OES-READ-002",
            "query parameter settlementAmounts: expected the JSON text of an object, "
            'got "{not json}"',
        ),
        ('{"a": {"BTC": 1}}', "OES-AMT-001", "invalid format for settlement amounts"),
        ('{"a": "1"}', "OES-AMT-001", "invalid format for settlement amounts"),
        (
            '{"a":' + '{"b":' * 400 + '"1"' + "}" * 400 + "}",
            "OES-AMT-001",
            "invalid format for settlement amounts: it nests deeper",
        ),
        (
            '{"a":' + "[" * 5000 + "]" * 5000 + "}",
            "OES-READ-002",
            "query parameter settlementAmounts: expected the JSON text of an object",
        ),
    ],
    ids=["array", "not-json", "number-leaf", "too-shallow", "nested-too-deep", "json-too-deep"],
)
async def test_signing_get_amounts_follow_their_documented_rules(
    sb: Sandbox, amounts: str, rule: str, expected: str
) -> None:
    """settlementAmounts on the GET signing route is the JSON text of an object (else
    OES-READ-002, its pattern) in one of the two shapes (else OES-AMT-001, as on the POST)."""
    response = await sb.get(SIGNING, externalId="x", nonce="n", settlementAmounts=amounts)
    assert _refused(response, rule).startswith(expected)
    if rule == "OES-AMT-001" and len(amounts) < 100:  # the POST answers the same object alike
        post = await sb.client.post(
            SIGNING,
            json={"externalId": "x", "nonce": "n", "settlementAmounts": json.loads(amounts)},
            headers=TOKEN,
        )
        assert post.json()["rule"] == rule, post.text


async def test_the_control_plane_bounds_its_strings_too(sb: Sandbox) -> None:
    """sandbox.yaml bounds its request strings as well: notes past 10,000 characters on
    POST /sandbox/sign, and a world's enterprise name past 1,024, are refused 400 OES-SBX-002
    naming the field, and the world in place stays."""
    fields = {"externalId": "x", "notes": "n" * 10_001, "settlementAmounts": {}}
    fields["cutoffAt"] = "2026-11-01T00:00:00.000Z"
    signed = await sb.admin("POST", "/sign?enterpriseId=ent-exchange", json=fields)
    assert signed.status_code == 400, signed.text
    assert signed.json() == {
        "error": "body field /notes: expected a string of at most 10000 characters, "
        "got a string of 10001 characters",
        "rule": "OES-SBX-002",
    }
    world = json.loads(json.dumps(sb.world))
    world["enterprises"][0]["name"] = "e" * 1025
    loaded = await sb.admin("POST", "/world", json=world)
    assert loaded.status_code == 400, loaded.text
    assert loaded.json()["rule"] == "OES-SBX-002"
    assert "1024" in loaded.json()["error"], loaded.text
    assert (await sb.get(SETTLEMENTS)).status_code == 200
