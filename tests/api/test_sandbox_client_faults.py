"""The control-plane features client tests are built on, used by hand: a partner world merged
beside the state, faults scoped to an enterprise (busy, hold, fail_after_commit), and a request
log holding what grading needs, read per enterprise."""

from __future__ import annotations

import time
from typing import Any

import pytest

from oeskit import signing
from oeskit.clienttest.world import RunWorld, new_run_world, task
from tests.conftest import Sandbox

pytestmark = pytest.mark.anyio
STAGE = "/api/network/v2/enterprises/{enterprise}/partners/settlements"


async def _merged(sb: Sandbox, scheme: str = signing.ED25519) -> RunWorld:
    world = new_run_world(signing.generate(scheme))
    merged = await sb.admin("POST", "/world", params={"mode": "merge"}, json=world.document())
    assert merged.status_code == 200, merged.text
    assert merged.json()["loaded"]["partners"] == 1
    return world


def _body(world: RunWorld, **changes: Any) -> dict[str, Any]:
    fields = {**task(world, "test"), "externalId": f"x-{time.monotonic_ns()}"}
    fields["nonce"] = signing.new_nonce()
    fields.update(changes)
    return signing.sign_body(fields, world.key)


async def _stage(sb: Sandbox, world: RunWorld, body: dict[str, Any]) -> Any:
    return await sb.client.post(
        STAGE.format(enterprise=world.enterprise_id),
        json=body,
        headers={"Authorization": f"Bearer {world.token}"},
    )


async def _log(sb: Sandbox, world: RunWorld) -> list[dict[str, Any]]:
    answer = await sb.admin("GET", "/requests", params={"enterpriseId": world.enterprise_id})
    assert answer.status_code == 200, answer.text
    return list(reversed(answer.json()["requests"]))


async def test_merge_adds_a_partner_beside_the_state(sb: Sandbox) -> None:
    """A merged world stages with its own token and key, and the demo partner still works."""
    world = await _merged(sb)
    staged = await _stage(sb, world, _body(world))
    assert staged.status_code == 200, staged.text
    assert staged.json()["settlement"]["status"] == "pending"
    demo = await sb.stage(sb.sign(sb.fields()))
    assert demo.status_code == 200, demo.text


async def test_merge_refuses_an_id_clash_and_adds_nothing(sb: Sandbox) -> None:
    """Merging a world whose ids already exist is 409 OES-SBX-004; nothing is added."""
    world = await _merged(sb)
    clash = world.document()
    before = sb.snapshot()
    answer = await sb.admin("POST", "/world", params={"mode": "merge"}, json=clash)
    assert answer.status_code == 409, answer.text
    assert answer.json()["rule"] == "OES-SBX-004"
    assert world.enterprise_id in answer.json()["error"]
    assert sb.snapshot() == before


async def test_merge_refuses_a_clock(sb: Sandbox) -> None:
    """A merged world may not move the shared clock: 400 OES-SBX-002."""
    world = new_run_world(signing.generate(signing.ED25519))
    document = {**world.document(), "clock": "2026-01-01T00:00:00Z"}
    answer = await sb.admin("POST", "/world", params={"mode": "merge"}, json=document)
    assert answer.status_code == 400, answer.text
    assert answer.json()["rule"] == "OES-SBX-002"
    assert "clock" in answer.json()["error"]


async def test_busy_fault_answers_503_with_retry_after_for_its_enterprise_only(
    sb: Sandbox,
) -> None:
    """A busy fault scoped to an enterprise answers its next staging 503 OES-SRV-002 with the
    Retry-After asked for and stages nothing; another partner's staging is untouched, and the
    log records the fault and the Retry-After sent."""
    world = await _merged(sb)
    armed = await sb.admin(
        "POST",
        "/faults",
        json={"kind": "busy", "enterpriseId": world.enterprise_id, "retryAfterSeconds": 2},
    )
    assert armed.status_code == 200, armed.text
    assert armed.json()["faults"][-1]["retryAfterSeconds"] == 2
    demo = await sb.stage(sb.sign(sb.fields()))
    assert demo.status_code == 200, demo.text
    body = _body(world)
    busy = await _stage(sb, world, body)
    assert (busy.status_code, busy.json()["rule"]) == (503, "OES-SRV-002")
    assert busy.headers["retry-after"] == "2"
    listed = await sb.client.get(
        STAGE.replace("v2", "v1").format(enterprise=world.enterprise_id),
        headers={"Authorization": f"Bearer {world.token}"},
    )
    assert listed.json()["settlements"] == []
    retried = await _stage(sb, world, body)
    assert retried.status_code == 200, retried.text
    log = await _log(sb, world)
    assert [
        (r["status"], r.get("fault"), r.get("retryAfter")) for r in log if r["method"] == "POST"
    ] == [
        (503, "busy", "2"),
        (200, None, None),
    ]


async def test_fail_after_commit_scoped_to_an_enterprise(sb: Sandbox) -> None:
    """fail_after_commit with only an enterpriseId fires on that partner's next fresh staging:
    committed, answered 500; the replay returns the stored settlement."""
    world = await _merged(sb)
    armed = await sb.admin(
        "POST", "/faults", json={"kind": "fail_after_commit", "enterpriseId": world.enterprise_id}
    )
    assert armed.status_code == 200, armed.text
    body = _body(world)
    failed = await _stage(sb, world, body)
    assert (failed.status_code, failed.json()["rule"]) == (500, "OES-SRV-001")
    replay = await _stage(sb, world, body)
    assert replay.status_code == 200, replay.text
    log = await _log(sb, world)
    assert [(r["status"], r.get("fault"), r["signatureVerdict"]) for r in log] == [
        (500, "fail_after_commit", "valid"),
        (200, None, "valid"),
    ]


async def test_fail_after_commit_needs_a_scope(sb: Sandbox) -> None:
    """An unscoped fail_after_commit would fire on anyone's staging: refused, 400 OES-SBX-002."""
    answer = await sb.admin("POST", "/faults", json={"kind": "fail_after_commit"})
    assert answer.status_code == 400, answer.text
    assert answer.json()["rule"] == "OES-SBX-002"


async def test_hold_commits_then_answers_late(sb: Sandbox) -> None:
    """A hold fault lets the staging commit and sends its 200 only after `milliseconds`."""
    world = await _merged(sb)
    armed = await sb.admin(
        "POST",
        "/faults",
        json={"kind": "hold", "enterpriseId": world.enterprise_id, "milliseconds": 300},
    )
    assert armed.status_code == 200, armed.text
    started = time.perf_counter()
    held = await _stage(sb, world, _body(world))
    assert held.status_code == 200, held.text
    assert time.perf_counter() - started >= 0.3
    (logged,) = await _log(sb, world)
    assert logged["fault"] == "hold"
    assert logged["durationMs"] >= 300


async def test_request_log_holds_what_grading_needs(sb: Sandbox) -> None:
    """Per enterprise, the log gives body, content type, externalId, properties fingerprint and
    the signature verdict (valid, or the OES-SIG rule that refused it)."""
    world = await _merged(sb)
    good = _body(world)
    assert (await _stage(sb, world, good)).status_code == 200
    forged = {**_body(world), "signature": signing.sign_message("other", world.key)}
    refused = await _stage(sb, world, forged)
    assert refused.json()["rule"] == "OES-SIG-004"
    first, second = await _log(sb, world)
    assert first["externalId"] == good["externalId"]
    assert first["contentType"] == "application/json"
    assert first["signatureVerdict"] == "valid"
    assert first["enterpriseId"] == world.enterprise_id
    assert '"signature":"***masked***"' in first["body"]  # unless asked for
    assert second["signatureVerdict"] == "OES-SIG-004"
    assert first["fingerprint"] == second["fingerprint"]  # same task, other nonce: same properties
    assert first["receivedAt"] <= first["at"]


async def test_clear_faults_of_one_enterprise_spares_the_others(sb: Sandbox) -> None:
    """DELETE /sandbox/faults?enterpriseId= disarms that enterprise's faults only."""
    mine, theirs = await _merged(sb), await _merged(sb)
    for world in (mine, theirs):
        await sb.admin(
            "POST", "/faults", json={"kind": "busy", "enterpriseId": world.enterprise_id}
        )
    left = await sb.admin("DELETE", "/faults", params={"enterpriseId": mine.enterprise_id})
    assert left.status_code == 200, left.text
    assert [f["enterpriseId"] for f in left.json()["faults"]] == [theirs.enterprise_id]


async def test_request_log_shows_signatures_only_when_asked(sb: Sandbox) -> None:
    """A logged body's signature is masked by default; `signatures=true` (what a client test
    asks for, to verify each signature itself) shows it as sent."""
    world = await _merged(sb)
    body = _body(world)
    assert (await _stage(sb, world, body)).status_code == 200
    masked = await sb.admin("GET", "/requests", params={"enterpriseId": world.enterprise_id})
    assert str(body["signature"]) not in masked.text
    shown = await sb.admin(
        "GET", "/requests", params={"enterpriseId": world.enterprise_id, "signatures": "true"}
    )
    assert shown.status_code == 200, shown.text
    assert str(body["signature"]) in shown.json()["requests"][0]["body"]
