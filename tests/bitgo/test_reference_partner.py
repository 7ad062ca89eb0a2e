"""End to end with the reference partner (`oeskit partner serve`) and the sandbox (`oeskit
serve --bitgo-key`), both real processes on loopback, wired as the README shows: connect,
allocate, stage against the cleared balance (422 above it, 200 within), deallocate."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from click.testing import CliRunner

from oeskit import fixtures, signing
from oeskit.cli import main
from oeskit.signing import bitgo_jwt
from oeskit.testing.server import Server, start_partner, start_serve
from tests.conftest import ADMIN, EXCHANGE, partner_key

STAGE = "/api/network/v2/enterprises/ent-exchange/partners/settlements"
TOKEN = {"Authorization": "Bearer demo-exchange-token"}


@pytest.fixture(scope="module")
def wired(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server, Path]]:
    work = tmp_path_factory.mktemp("e2e")
    pair = bitgo_jwt.generate_key_pair()
    (work / "bitgo-private.pem").write_text(pair.private_pem)
    (work / "bitgo-public.pem").write_text(pair.public_pem)
    partner, profile = start_partner(
        work,
        work / "bitgo-public.pem",
        accounts=3,
        extra=["--partner-id", EXCHANGE],
    )
    sandbox = start_serve(
        work,
        work / "sandbox.db",
        admin=ADMIN,
        extra=["--bitgo-key", str(work / "bitgo-private.pem")],
    )
    try:
        yield sandbox, partner, profile
    finally:
        sandbox.stop()
        partner.stop()


def _signed(world: dict[str, Any], connection: str, liability: int, external_id: str) -> Any:
    fields = {
        "externalId": external_id,
        "settlementAmounts": {connection: {"BTC": str(-liability)}},
        "nonce": signing.new_nonce(),
        "cutoffAt": "2026-11-01T00:00:00.000Z",
    }
    return signing.sign_body(fields, partner_key(world, EXCHANGE))


def test_the_whole_flow_against_the_reference_partner(
    wired: tuple[Server, Server, Path], demo_world: dict[str, Any]
) -> None:
    """Every step answers as the README says, and the partner checked every token."""
    sandbox, partner, profile = wired
    tokens = yaml.safe_load(profile.read_text())["connectionTokens"]
    admin = {"Authorization": f"Bearer {ADMIN}"}
    with httpx.Client(base_url=sandbox.base_url, headers=admin, timeout=30) as client:
        key = client.get("/sandbox/bitgo-key").json()["publicKey"]
        assert key == (profile.parent / "bitgo-public.pem").read_text()
        hosted = client.put(
            f"/sandbox/partners/{EXCHANGE}/hosted", json={"baseUrl": partner.base_url}
        )
        assert hosted.status_code == 200, hosted.text
        linked = client.post(
            "/sandbox/connections", json={"partnerId": EXCHANGE, "connectionToken": tokens[0]}
        )
        assert linked.status_code == 200, linked.text
        connection = linked.json()["connection"]
        assert connection["partnersConnectionId"] and connection["partnersClientId"]

        allocated = client.post(
            f"/sandbox/connections/{connection['id']}/allocations",
            json={"currency": "BTC", "quantity": "100000", "clientExternalId": "e2e-1"},
        )
        assert allocated.status_code == 200, allocated.text
        assert allocated.json()["allocation"]["status"] == "cleared"
        assert allocated.json()["balance"] == {"available": "100000", "held": "0"}

        over = client.post(
            STAGE, json=_signed(demo_world, connection["id"], 100_001, "e2e-over"), headers=TOKEN
        )
        assert (over.status_code, over.json()["rule"]) == (422, "OES-BAL-001")
        within = client.post(
            STAGE, json=_signed(demo_world, connection["id"], 60_000, "e2e-in"), headers=TOKEN
        )
        assert within.status_code == 200, within.text

        dealloc = client.post(
            f"/sandbox/connections/{connection['id']}/deallocations",
            json={"currency": "ofcbtc", "quantity": "30000"},
        )
        assert dealloc.status_code == 200, dealloc.text
        assert dealloc.json()["deallocation"]["status"] == "cleared"
        assert dealloc.json()["balance"] == {"available": "10000", "held": "60000"}

        beyond = client.post(
            f"/sandbox/connections/{connection['id']}/deallocations",
            json={"currency": "ofcbtc", "quantity": "10001"},
        )
        assert (beyond.status_code, beyond.json()["rule"]) == (422, "OES-SBX-009")

        calls = client.get("/sandbox/partner-calls").json()["calls"]
        assert [c["status"] for c in calls] == [200] * 5  # connect, 2 x (POST, clear)
        listed = client.get(
            "/api/network/v1/enterprises/ent-exchange/partners/allocations", headers=TOKEN
        ).json()["allocations"]
        assert [(a["type"], a["status"]) for a in listed] == [
            ("allocation", "cleared"),
            ("deallocation", "cleared"),
        ]


def test_the_conform_scenario_walks_the_flow_against_the_reference_partner(
    wired: tuple[Server, Server, Path], tmp_path: Path
) -> None:
    """`oeskit conform --scenario allocations-end-to-end` with a profile declaring
    partnerHosted (the partner's URL and a fresh token) passes against the two processes."""
    sandbox, partner, profile = wired
    tokens = yaml.safe_load(profile.read_text())["connectionTokens"]
    demo = yaml.safe_load(fixtures.profile_path("demo").read_text())
    demo["capabilities"] = [*demo["capabilities"], "partnerHosted"]
    demo["ids"] = {**demo["ids"], "partnerUrl": partner.base_url, "connectionToken": tokens[1]}
    conform_profile = tmp_path / "profile.yaml"
    conform_profile.write_text(yaml.safe_dump(demo))
    result = CliRunner().invoke(
        main,
        [
            "conform",
            "--target",
            sandbox.base_url,
            "--profile",
            str(conform_profile),
            "--sandbox-token",
            ADMIN,
            "--scenario",
            "allocations-end-to-end",
            "--no-fuzz",
            "--report-dir",
            str(tmp_path / "reports"),
        ],
    )
    report = json.loads((tmp_path / "reports" / "report.json").read_text())
    assert report["summary"] == {"passed": 1, "failed": 0, "warnings": 0, "skipped": 0}, (
        result.output
    )
    assert result.exit_code == 0
