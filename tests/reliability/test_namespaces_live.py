"""Namespaces on a real `oeskit serve`: two conform runs side by side in two namespaces of one
server, the job loop of each namespace on its own clock, and a deletion seen by every worker
process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from oeskit import signing
from tests.conftest import (
    ADMIN,
    DEMO,
    EXCHANGE,
    STAGE,
    LiveServer,
    partner_key,
    start_server,
    stop_server,
)

TOKEN = {"Authorization": "Bearer demo-exchange-token"}
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}"}
ONE = "/api/network/v1/enterprises/ent-exchange/partners/settlements/{id}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the module's one-worker tests: each works in namespaces of its own, and
    the job-loop test deletes its namespaces, so the conform test's listing sees only its own."""
    server = start_server(tmp_path_factory.mktemp("namespaces-live"))
    yield server
    stop_server(server)


def _stage(base: str, external_id: str) -> str:
    import yaml

    world = yaml.safe_load(DEMO.read_text())
    fields: dict[str, Any] = {
        "externalId": external_id,
        "settlementAmounts": {"09684b38-49ed-4cf6-a28e-c3a459494c69": {"BTC": "-1000"}},
        "nonce": signing.new_nonce(),
        "cutoffAt": "2026-11-01T00:00:00.000Z",
    }
    body = signing.sign_body(fields, partner_key(world, EXCHANGE))
    response = httpx.post(base + STAGE.format(enterprise="ent-exchange"), json=body, headers=TOKEN)
    assert response.status_code == 200, response.text
    return str(response.json()["settlement"]["id"])


def _conform(target: str, reports: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "oeskit", "conform", "--target", target),
            *("--sandbox-token", ADMIN, "--report-dir", str(reports)),
            # The scenarios are what load worlds, move clocks and arm faults in a namespace;
            # the fuzz pass and the junit/html/md reports add time, not namespace traffic of
            # another kind (tests/conformance runs them).
            *("--no-fuzz", "--format", "json"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


@pytest.mark.slow
def test_two_conform_runs_in_two_namespaces_of_one_server_both_pass(
    server: LiveServer, tmp_path: Path
) -> None:
    """`oeskit conform --target http://host/ns/run-1` and `.../ns/run-2` at the same time, each
    loading worlds, moving clocks and arming faults: both pass, and the default namespace keeps
    the settlement staged in it before."""
    kept = _stage(server.base_url, "default-before-the-runs")
    runs = {
        name: _conform(f"{server.base_url}/ns/{name}", tmp_path / name)
        for name in ("run-1", "run-2")
    }
    for name, process in runs.items():
        output, _ = process.communicate(timeout=300)
        report = json.loads((tmp_path / name / "report.json").read_text())
        failed = [(r["id"], r["reason"]) for r in report["results"] if r["status"] == "FAILED"]
        assert failed == [], (name, output.decode()[-3000:])
        assert process.returncode == 0, output.decode()[-3000:]
        assert report["summary"]["passed"] > 40
    one = httpx.get(server.base_url + ONE.format(id=kept), headers=TOKEN)
    assert one.status_code == 200, one.text
    listed = httpx.get(server.base_url + "/sandbox/namespaces", headers=ADMIN_HEADERS)
    assert [n["name"] for n in listed.json()["namespaces"]] == ["run-1", "run-2"]


def _status(base: str, settlement_id: str) -> str:
    response = httpx.get(base + ONE.format(id=settlement_id), headers=TOKEN)
    assert response.status_code == 200, response.text
    return str(response.json()["settlement"]["status"])


def test_each_namespace_runs_its_own_jobs_on_its_own_clock(server: LiveServer) -> None:
    """A fast clock in namespace `fast` lets its background job loop finalise a settlement
    there, with no control-plane call; the same settlement in namespace `slow` stays pending."""
    fast, slow = server.base_url + "/ns/fast", server.base_url + "/ns/slow"
    try:
        _finalise_in_fast_only(fast, slow)
    finally:
        for name in ("fast", "slow"):
            httpx.delete(server.base_url + "/sandbox/namespaces/" + name, headers=ADMIN_HEADERS)


def _finalise_in_fast_only(fast: str, slow: str) -> None:
    in_fast, in_slow = _stage(fast, "job-loop"), _stage(slow, "job-loop")
    sped = httpx.post(
        fast + "/sandbox/clock", json={"mode": "speed", "speed": 10_000}, headers=ADMIN_HEADERS
    )
    assert sped.status_code == 200, sped.text
    assert sped.json()["jobsRun"] == 0
    deadline = time.monotonic() + 20
    while _status(fast, in_fast) == "pending" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _status(fast, in_fast) in ("completed", "failed")
    assert _status(slow, in_slow) == "pending"
    slow_clock = httpx.get(slow + "/sandbox/clock", headers=ADMIN_HEADERS).json()
    assert slow_clock["mode"] != "speed"


@pytest.mark.slow
def test_a_deletion_is_seen_by_every_worker_process(tmp_path: Path) -> None:
    """With two workers, each keeps its own open namespaces; after one deletes `shared`, both
    answer from a fresh namespace (the file changed under them), on many new connections."""
    server = start_server(tmp_path, workers=2)
    try:
        base = server.base_url + "/ns/shared"
        staged = _stage(base, "seen-by-both")
        for _ in range(20):  # a new connection each: the kernel spreads them over both workers
            assert httpx.get(base + ONE.format(id=staged), headers=TOKEN).status_code == 200
        deleted = httpx.delete(
            server.base_url + "/sandbox/namespaces/shared", headers=ADMIN_HEADERS
        )
        assert deleted.json() == {"deleted": "shared"}
        answers = [httpx.get(base + ONE.format(id=staged), headers=TOKEN) for _ in range(20)]
        assert [(a.status_code, a.json()["rule"]) for a in answers] == [(404, "OES-READ-001")] * 20
    finally:
        stop_server(server)
