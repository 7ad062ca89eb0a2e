"""A partner's tests against the oeskit sandbox: `pip install oeskit`, then `pytest`.

The `oeskit_sandbox` fixture comes with the package (no conftest needed): one sandbox server
per test session, a fresh state for every test.
"""

import pytest

SETTLEMENT = "/api/network/v1/enterprises/{enterprise}/partners/settlements/{id}"


def test_staged_settlement_is_replayed_then_completes(oeskit_sandbox):
    """A signed settlement stages, the same body answers the same settlement, and moving the
    clock past both windows (60 + 30 minutes in the demo world) completes it."""
    sandbox = oeskit_sandbox
    body = sandbox.sign(
        {
            "externalId": "daily-2026-11-01",
            "settlementAmounts": {sandbox.connections[0]: {"BTC": "-1000", "ETH": "2000"}},
            "cutoffAt": "2026-11-01T00:00:00.000Z",
        }
    )
    first = sandbox.client.post(sandbox.stage_path, json=body)
    assert first.status_code == 200, first.text
    settlement = first.json()["settlement"]
    assert settlement["status"] == "pending"

    replay = sandbox.client.post(sandbox.stage_path, json=body)
    assert replay.status_code == 200
    assert replay.json()["settlement"]["id"] == settlement["id"]

    assert sandbox.advance(minutes=90)["jobsRun"] == 2
    url = SETTLEMENT.format(enterprise=sandbox.enterprise_id, id=settlement["id"])
    assert sandbox.client.get(url).json()["settlement"]["status"] == "completed"


def test_every_test_starts_from_the_world(oeskit_sandbox):
    """Only the world's own settlement history is there: nothing another test staged."""
    listed = oeskit_sandbox.client.get(
        f"/api/network/v1/enterprises/{oeskit_sandbox.enterprise_id}/partners/settlements"
    )
    assert listed.status_code == 200, listed.text
    history = [s["externalId"] for s in oeskit_sandbox.world["settlements"]]
    assert [s["externalId"] for s in listed.json()["settlements"]] == history


def test_a_lost_answer_is_recovered_by_replaying(oeskit_sandbox):
    """With a fault armed, the settlement commits but the answer is a 500; replaying the same
    body returns the settlement that exists."""
    sandbox = oeskit_sandbox
    body = sandbox.sign(
        {
            "externalId": "lost-answer",
            "settlementAmounts": {sandbox.connections[0]: {"BTC": "-1000"}},
            "cutoffAt": "2026-11-01T00:00:00.000Z",
        }
    )
    sandbox.arm("fail_after_commit", external_id="lost-answer")
    assert sandbox.client.post(sandbox.stage_path, json=body).status_code == 500
    replay = sandbox.client.post(sandbox.stage_path, json=body)
    assert replay.status_code == 200, replay.text


@pytest.mark.oeskit_world("minimal")
def test_another_world_for_one_test(oeskit_sandbox):
    """The marker loads a packaged world (or a file) for this test only."""
    assert oeskit_sandbox.enterprise_id == "ent-minimal"
    assert oeskit_sandbox.world["clock"] == "2025-06-01T00:05:00Z"
