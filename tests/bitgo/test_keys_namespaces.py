"""BitGo's signing key survives restarts and resets, `--bitgo-key` replaces it, and every
namespace keeps its own key, hosted URLs and records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from oeskit.http.app import create_app, open_store
from oeskit.signing import bitgo_jwt
from tests.bitgo.tiny_partner import TinyPartner, serving
from tests.conftest import ADMIN, EXCHANGE, make_settings

pytestmark = pytest.mark.anyio
HEADERS = {"Authorization": f"Bearer {ADMIN}"}


async def _public_key(settings: Any, path: str = "/sandbox/bitgo-key") -> str:
    store = open_store(settings)
    try:
        transport = httpx.ASGITransport(app=create_app(settings, store))
        async with httpx.AsyncClient(transport=transport, base_url="http://s.test") as client:
            answer = await client.get(path, headers=HEADERS)
            assert answer.status_code == 200, answer.text
            key: str = answer.json()["publicKey"]
            return key
    finally:
        store.close()


async def test_the_key_survives_a_restart_and_a_reset(tmp_path: Path) -> None:
    """Two apps on one database give one key; a reset keeps it (partners configured it)."""
    settings = make_settings(tmp_path)
    first = await _public_key(settings)
    store = open_store(settings)
    try:
        transport = httpx.ASGITransport(app=create_app(settings, store))
        async with httpx.AsyncClient(transport=transport, base_url="http://s.test") as client:
            assert (await client.post("/sandbox/reset", headers=HEADERS)).status_code == 200
    finally:
        store.close()
    assert await _public_key(settings) == first


async def test_a_supplied_key_is_used_instead(tmp_path: Path) -> None:
    """--bitgo-key PEM (settings.bitgo_key): its public half is served, in namespaces too."""
    pair = bitgo_jwt.generate_key_pair()
    pem = tmp_path / "bitgo.pem"
    pem.write_text(pair.private_pem)
    settings = make_settings(tmp_path, bitgo_key=str(pem))
    assert await _public_key(settings) == pair.public_pem
    assert await _public_key(settings, "/ns/run-1/sandbox/bitgo-key") == pair.public_pem


async def test_namespaces_keep_their_own_keys_hosted_urls_and_records(tmp_path: Path) -> None:
    """A namespace signs with a key of its own, calls the partner set there, and its
    allocations and calls are not seen from the default namespace."""
    settings = make_settings(tmp_path)
    store = open_store(settings)
    tiny = TinyPartner()
    try:
        transport = httpx.ASGITransport(app=create_app(settings, store))
        with serving(tiny) as url:
            async with (
                httpx.AsyncClient(
                    transport=transport, base_url="http://s.test/ns/run-1", headers=HEADERS
                ) as ns,
                httpx.AsyncClient(
                    transport=transport, base_url="http://s.test", headers=HEADERS
                ) as default,
            ):
                ns_key = (await ns.get("/sandbox/bitgo-key")).json()["publicKey"]
                default_key = (await default.get("/sandbox/bitgo-key")).json()["publicKey"]
                assert ns_key != default_key
                tiny.public_pem = ns_key
                hosted = {"baseUrl": url}
                assert (
                    await ns.put(f"/sandbox/partners/{EXCHANGE}/hosted", json=hosted)
                ).status_code == 200
                body = {"partnerId": EXCHANGE, "connectionToken": "good-ns"}
                linked = await ns.post("/sandbox/connections", json=body)
                assert linked.status_code == 200, linked.text
                connection = linked.json()["connection"]["id"]
                allocated = await ns.post(
                    f"/sandbox/connections/{connection}/allocations",
                    json={"currency": "ofcbtc", "quantity": "500"},
                )
                assert allocated.json()["allocation"]["status"] == "cleared"
                assert all(s.problem is None for s in tiny.seen)  # signed with the ns key

                refused = await default.post("/sandbox/connections", json=body)
                assert refused.status_code == 409  # no hosted URL in the default namespace
                assert (await default.get("/sandbox/partner-calls")).json() == {"calls": []}
                assert len((await ns.get("/sandbox/partner-calls")).json()["calls"]) == 3
                unknown = await default.post(
                    f"/sandbox/connections/{connection}/allocations",
                    json={"currency": "ofcbtc", "quantity": "500"},
                )
                assert unknown.status_code == 404
    finally:
        store.close()


async def test_a_world_sets_hosted_url_and_async_mode(
    tmp_path: Path, demo_world: dict[str, Any]
) -> None:
    """hostedUrl and asyncAllocations on a world's partner are what the control plane shows."""
    for p in demo_world["partners"]:
        if p["id"] == EXCHANGE:
            p.update(hostedUrl="http://127.0.0.1:9/base", asyncAllocations=True)
    settings = make_settings(tmp_path)
    store = open_store(settings)
    try:
        transport = httpx.ASGITransport(app=create_app(settings, store))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://s.test", headers=HEADERS
        ) as client:
            assert (await client.post("/sandbox/world", json=demo_world)).status_code == 200
            shown = await client.put(
                f"/sandbox/partners/{EXCHANGE}/hosted", json={"baseUrl": "http://127.0.0.1:9/base"}
            )
            assert shown.json()["asyncAllocations"] is True
            assert store.hosted_target(EXCHANGE) is not None
    finally:
        store.close()
