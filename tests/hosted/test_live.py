"""`oeskit partner serve` as a real process on loopback: the banner and profile, a whole
allocation cycle signed with real RS256 tokens, and 8 racing duplicates from 8 threads."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import yaml

from oeskit.signing import bitgo_jwt
from oeskit.testing.server import Server, start_partner
from tests.hosted.conftest import loaded_key

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, Any], str]]:
    workdir = tmp_path_factory.mktemp("live-partner")
    keys = bitgo_jwt.generate_key_pair()
    public = workdir / "bitgo-public.pem"
    public.write_text(keys.public_pem)
    server, profile_path = start_partner(workdir, public, accounts=5)
    try:
        yield server, yaml.safe_load(profile_path.read_text()), keys.private_pem
    finally:
        server.stop()


def call(
    server: Server, private_pem: str, method: str, path: str, body: dict[str, Any] | None = None
) -> httpx.Response:
    raw = b"" if body is None else json.dumps(body).encode()
    key = loaded_key(private_pem)
    token = bitgo_jwt.sign(key, now=int(time.time()), method=method, path=path, body=raw)
    headers = {bitgo_jwt.HEADER: token, "Content-Type": "application/json"}
    return httpx.request(method, server.base_url + path, content=raw, headers=headers, timeout=30)


def test_banner_and_profile_list_the_new_accounts(
    live: tuple[Server, dict[str, Any], str],
) -> None:
    """The profile holds the partnerId, 5 tokens and both capabilities; the banner prints them."""
    server, profile, _ = live
    assert set(profile) == {"partnerId", "connectionTokens", "capabilities"}
    assert uuid.UUID(profile["partnerId"])
    assert len(profile["connectionTokens"]) == 5
    assert profile["capabilities"] == ["release", "bodyBinding"]
    log = server.log_tail(5000)
    assert f"partnerId: {profile['partnerId']}" in log
    assert all(token in log for token in profile["connectionTokens"])


def test_a_whole_cycle_and_racing_duplicates(live: tuple[Server, dict[str, Any], str]) -> None:
    """Connect, 8 racing identical allocations from 8 threads (one partnersAllocationId), clear,
    then the full amount can be held and one unit more cannot."""
    server, profile, private_pem = live
    request = {
        "clientId": str(uuid.uuid4()),
        "connectionId": str(uuid.uuid4()),
        "connectionToken": profile["connectionTokens"][0],
        "partnerId": profile["partnerId"],
    }
    connection = call(server, private_pem, "POST", "/bitgo/v1/connections", request).json()
    ids = {
        k: connection[k]
        for k in ("clientId", "connectionId", "partnersConnectionId", "partnersClientId")
    }
    allocation = {
        "allocationId": str(uuid.uuid4()),
        "amount": {"currency": "BTC", "quantity": "800"},
        **ids,
    }
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(
                lambda _: call(server, private_pem, "POST", "/bitgo/v1/allocations", allocation),
                range(8),
            )
        )
    assert {a.status_code for a in answers} == {200}
    assert len({a.json()["partnersAllocationId"] for a in answers}) == 1
    cleared = call(
        server, private_pem, "PUT", f"/bitgo/v1/allocation/{allocation['allocationId']}/clear"
    )
    assert cleared.json()["status"] == "cleared"

    def deallocate(quantity: int) -> str:
        body = {
            "deallocationId": str(uuid.uuid4()),
            "amount": {"currency": "BTC", "quantity": str(quantity)},
            **ids,
        }
        return str(
            call(server, private_pem, "POST", "/bitgo/v1/deallocations", body).json()["status"]
        )

    assert deallocate(801) == "rejected"
    assert deallocate(800) == "reserved"
    assert deallocate(1) == "rejected"


def test_an_unsigned_call_is_refused(live: tuple[Server, dict[str, Any], str]) -> None:
    """Over real HTTP too, a call without X-BitGo-Signature is 401 PH-SIG-001."""
    server, _, _ = live
    response = httpx.post(server.base_url + "/bitgo/v1/allocations", json={}, timeout=30)
    assert (response.status_code, response.json()["rule"]) == (401, "PH-SIG-001")
