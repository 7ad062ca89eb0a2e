"""Arming a fault with a wrong option names the option and the fault (not an opaque oneOf), and
`externalId` means the same for every fault that takes it: only stagings of that externalId."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Sandbox

pytestmark = pytest.mark.anyio


async def _arm(sb: Sandbox, **body: Any) -> Any:
    return await sb.admin("POST", "/faults", json=body)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (
            {"kind": "latency", "milliseconds": 5, "externalId": "x"},
            ("externalId", "latency", "count", "milliseconds"),
        ),
        ({"kind": "busy", "retryAfter": 2}, ("retryAfter", "busy", "retryAfterSeconds")),
        ({"kind": "hold", "millis": 5}, ("millis", "hold", "milliseconds")),
        ({"kind": "hold"}, ("milliseconds", "hold")),
        ({"kind": "busy", "count": 0}, ("count", "busy")),
        ({"kind": "fail_after_commit", "externalId": 7}, ("externalId", "fail_after_commit")),
    ],
    ids=["latency-externalId", "busy-retryAfter", "hold-millis", "hold-no-ms", "busy-count-0",
         "fac-externalId-number"],
)  # fmt: skip
async def test_a_wrong_option_names_the_property_and_the_fault(
    sb: Sandbox, body: dict[str, Any], words: tuple[str, ...]
) -> None:
    """400 OES-SBX-002 whose message names the offending property and the fault's kind (and,
    for an unknown property, the options that fault takes); nothing is armed."""
    answer = await _arm(sb, **body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["rule"] == "OES-SBX-002"
    message = answer.json()["error"]
    for word in words:
        assert word in message, message
    assert "oneOf" not in message and "is not valid under any" not in message
    assert (await sb.admin("GET", "/faults")).json() == {"faults": []}


async def test_an_unknown_kind_lists_the_kinds(sb: Sandbox) -> None:
    """A kind that does not exist: 400 naming it and listing the four kinds."""
    answer = await _arm(sb, kind="slow")
    assert answer.status_code == 400, answer.text
    message = answer.json()["error"]
    assert "'slow'" in message
    for kind in ("fail_after_commit", "latency", "busy", "hold"):
        assert kind in message, message


async def test_busy_scoped_to_an_external_id_answers_only_that_staging(sb: Sandbox) -> None:
    """`busy` with `externalId`: a staging of another externalId goes through; the first one of
    that externalId is answered 503 and stages nothing; its resend stages it."""
    armed = await _arm(sb, kind="busy", externalId="wanted", retryAfterSeconds=3)
    assert armed.status_code == 200, armed.text
    assert armed.json()["faults"][0]["externalId"] == "wanted"
    other = await sb.stage(sb.sign(sb.fields(externalId="other")))
    assert other.status_code == 200, other.text
    body = sb.sign(sb.fields(externalId="wanted"))
    busy = await sb.stage(body)
    assert busy.status_code == 503, busy.text
    assert busy.json()["rule"] == "OES-SRV-002"
    assert busy.headers["Retry-After"] == "3"
    listed = await sb.get("/api/network/v1/enterprises/ent-exchange/partners/settlements")
    assert "wanted" not in {s["externalId"] for s in listed.json()["settlements"]}
    again = await sb.stage(body)
    assert again.status_code == 200, again.text
    assert again.json()["settlement"]["externalId"] == "wanted"
