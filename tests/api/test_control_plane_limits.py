"""Control-plane answers the independent tools tripped on (issue 10): the clock's advance limit,
and latency faults that apply only to the partner API."""

from __future__ import annotations

import time

import pytest

from oeskit import spec
from tests.api.conftest import BALANCES
from tests.conftest import Sandbox

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("minutes", [1e300, 52_596_001, 10**30], ids=["1e300", "limit+1", "10^30"])
async def test_clock_advance_beyond_the_limit_names_it(sb: Sandbox, minutes: float) -> None:
    """`advanceMinutes` past 52,596,000 is refused 400 OES-SBX-002 with the limit, not
    Python's own overflow message."""
    response = await sb.admin("POST", "/clock", json={"advanceMinutes": minutes})
    assert (response.status_code, response.json()["rule"]) == (400, "OES-SBX-002")
    assert "52596000" in response.json()["error"]
    assert "C int" not in response.json()["error"]


async def test_clock_advance_limit_is_documented() -> None:
    """sandbox.yaml states the same limit as the schema's maximum."""
    operation = spec.load(spec.sandbox_path())["paths"]["/clock"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["advanceMinutes"]["maximum"] == 52_596_000


async def test_clock_cannot_pass_year_9999(sb: Sandbox) -> None:
    """An advance within the limit that would pass datetime's last instant is 400 OES-SBX-002
    saying so."""
    jumped = await sb.admin("POST", "/clock", json={"now": "9990-01-01T00:00:00Z"})
    assert jumped.status_code == 200, jumped.text
    response = await sb.admin("POST", "/clock", json={"advanceMinutes": 52_596_000})
    assert (response.status_code, response.json()["rule"]) == (400, "OES-SBX-002")
    assert "9999-12-31" in response.json()["error"]


async def _remaining(sb: Sandbox) -> list[int]:
    listed = await sb.admin("GET", "/faults")
    return [f["remaining"] for f in listed.json()["faults"]]


async def test_latency_skips_control_plane_and_spec_files(sb: Sandbox) -> None:
    """A latency fault does not delay /sandbox/ or /openapi.json, and they do not use it up;
    the next partner request is delayed and uses it."""
    armed = await sb.admin("POST", "/faults", json={"kind": "latency", "milliseconds": 400})
    assert armed.status_code == 200, armed.text
    started = time.perf_counter()
    assert (await sb.admin("GET", "/clock")).status_code == 200
    assert (await sb.client.get("/openapi.json")).status_code == 200
    assert time.perf_counter() - started < 0.35
    assert await _remaining(sb) == [1]
    started = time.perf_counter()
    response = await sb.get(BALANCES)
    assert response.status_code == 200, response.text
    assert time.perf_counter() - started >= 0.4
    assert await _remaining(sb) == []


async def test_fail_after_commit_spares_other_external_ids(sb: Sandbox) -> None:
    """A fail-after-commit fault for one externalId leaves other stagings answered 200 and
    stays armed for its own."""
    fields = sb.fields()
    armed = await sb.admin(
        "POST", "/faults", json={"kind": "fail_after_commit", "externalId": fields["externalId"]}
    )
    assert armed.status_code == 200, armed.text
    other = await sb.stage(sb.sign(sb.fields()))
    assert other.status_code == 200, other.text
    assert await _remaining(sb) == [1]
    failed = await sb.stage(sb.sign(fields))
    assert (failed.status_code, failed.json()["rule"]) == (500, "OES-SRV-001")
    assert await _remaining(sb) == []
