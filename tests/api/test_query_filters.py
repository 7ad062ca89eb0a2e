"""Array filters: a literal comma separates values, an encoded comma is data (except among
UUIDs, which cannot hold one), and an empty value is refused on every filter (issue 10)."""

from __future__ import annotations

import re

import pytest

from oeskit import spec
from tests.api.conftest import SETTLEMENTS
from tests.conftest import ALPHA, Sandbox

pytestmark = pytest.mark.anyio


def _array_filters() -> list[tuple[str, str]]:
    """(path, parameter) for every array query parameter of the contract."""
    document = spec.contract()
    found = []
    for template, item in document["paths"].items():
        path = re.sub(r"\{(\w+)\}", "PLACEHOLDER", template)
        path = path.replace("enterprises/PLACEHOLDER", "enterprises/ent-exchange")
        path = path.replace("PLACEHOLDER", "4b44a80b-871e-48fe-a8d3-331463871ce7")
        operation = item.get("get")
        if operation is None:
            continue
        for parameter in operation.get("parameters", []):
            if "$ref" in parameter:  # #/components/parameters/<name>
                parameter = document["components"]["parameters"][parameter["$ref"].split("/")[-1]]
            if parameter["in"] == "query" and parameter["schema"].get("type") == "array":
                found.append((path, parameter["name"]))
    return found


async def _stage(sb: Sandbox, external_id: str) -> str:
    response = await sb.stage(sb.sign(sb.fields({ALPHA: {"BTC": "-10"}}, externalId=external_id)))
    assert response.status_code == 200, response.text
    return str(response.json()["settlement"]["id"])


async def test_encoded_comma_is_part_of_the_value(sb: Sandbox) -> None:
    """`?externalIds=comma%2Cx` finds the settlement staged as `comma,x`."""
    staged = await _stage(sb, "comma,x")
    response = await sb.client.get(
        SETTLEMENTS + "?externalIds=comma%2Cx",
        headers={"Authorization": "Bearer demo-exchange-token"},
    )
    assert response.status_code == 200, response.text
    assert [s["id"] for s in response.json()["settlements"]] == [staged]


async def test_literal_comma_still_separates_values(sb: Sandbox) -> None:
    """`?externalIds=a,b` asks for two ids (and so does not find `a,b`)."""
    first = await _stage(sb, "literal-a")
    second = await _stage(sb, "literal-b")
    await _stage(sb, "literal-a,literal-b")
    response = await sb.client.get(
        SETTLEMENTS + "?externalIds=literal-a,literal-b",
        headers={"Authorization": "Bearer demo-exchange-token"},
    )
    assert response.status_code == 200, response.text
    assert sorted(s["id"] for s in response.json()["settlements"]) == sorted([first, second])


async def test_encoded_and_literal_commas_mix(sb: Sandbox) -> None:
    """`?externalIds=mixed-a,mixed%2Cb` is the two ids `mixed-a` and `mixed,b`."""
    first = await _stage(sb, "mixed-a")
    second = await _stage(sb, "mixed,b")
    response = await sb.client.get(
        SETTLEMENTS + "?externalIds=mixed-a,mixed%2Cb",
        headers={"Authorization": "Bearer demo-exchange-token"},
    )
    assert sorted(s["id"] for s in response.json()["settlements"]) == sorted([first, second])


async def test_encoded_comma_separates_uuids(sb: Sandbox) -> None:
    """In a filter of UUIDs an encoded comma cannot be data, so it separates like a literal
    one (httpx and URLSearchParams encode every comma)."""
    first = await _stage(sb, "uuid-a")
    second = await _stage(sb, "uuid-b")
    response = await sb.client.get(
        SETTLEMENTS + f"?settlementIds={first}%2C{second}",
        headers={"Authorization": "Bearer demo-exchange-token"},
    )
    assert response.status_code == 200, response.text
    assert sorted(s["id"] for s in response.json()["settlements"]) == sorted([first, second])


@pytest.mark.parametrize(("path", "name"), _array_filters(), ids=lambda v: v.split("/")[-1])
async def test_empty_filter_value_is_refused(sb: Sandbox, path: str, name: str) -> None:
    """`?<filter>=` is refused 400 OES-READ-002 naming the parameter, never read as no filter."""
    response = await sb.client.get(
        f"{path}?{name}=", headers={"Authorization": "Bearer demo-exchange-token"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["rule"] == "OES-READ-002"
    assert name in response.json()["error"]


async def test_nul_in_a_filter_value_finds_its_settlement(sb: Sandbox) -> None:
    """`?externalIds=nul%00x` finds the settlement staged as `nul\\x00x` (PostgreSQL's text
    cannot hold U+0000: the store encodes it, in a filter's values too) and the private-use
    character the encoding uses is data like any other."""
    staged = await _stage(sb, "nul\x00x")
    marked = await _stage(sb, "pua\ue000\ue001x")
    headers = {"Authorization": "Bearer demo-exchange-token"}
    for query, expected in (("nul%00x", staged), ("pua%EE%80%80%EE%80%81x", marked)):
        response = await sb.client.get(SETTLEMENTS + "?externalIds=" + query, headers=headers)
        assert response.status_code == 200, response.text
        found = response.json()["settlements"]
        assert [s["id"] for s in found] == [expected], query
    both = await sb.client.get(
        SETTLEMENTS + "?externalIds=nul%00x,pua%EE%80%80%EE%80%81x", headers=headers
    )
    assert both.status_code == 200, both.text
    assert sorted(s["externalId"] for s in both.json()["settlements"]) == sorted(
        ["nul\x00x", "pua\ue000\ue001x"]
    )
    # Past 32 values the store sends the list as one JSON parameter: the odd two still match.
    many = ",".join([*(f"absent-{n}" for n in range(40)), "nul%00x", "pua%EE%80%80%EE%80%81x"])
    response = await sb.client.get(SETTLEMENTS + "?externalIds=" + many, headers=headers)
    assert response.status_code == 200, response.text
    assert sorted(s["id"] for s in response.json()["settlements"]) == sorted([staged, marked])
