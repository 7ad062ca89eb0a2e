"""Fixtures of the sandbox-as-BitGo tests: an in-process sandbox (demo world) and the tiny
partner of `tiny_partner.py` on a real loopback server, already wired to each other."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from oeskit.http.app import create_app, open_store
from tests.bitgo.tiny_partner import TinyPartner, serving
from tests.conftest import EXCHANGE, Sandbox, make_settings


@pytest.fixture
def partner() -> Iterator[tuple[TinyPartner, str]]:
    tiny = TinyPartner()
    with serving(tiny) as url:
        yield tiny, url


@pytest.fixture
async def sb(
    tmp_path: Path, demo_world: dict[str, Any], partner: tuple[TinyPartner, str]
) -> AsyncIterator[Sandbox]:
    """The demo world with Demo Exchange's hosted endpoints at the tiny partner, which holds
    the sandbox's public key (short timeouts: a slow partner costs a test little)."""
    settings = make_settings(tmp_path, partner_timeout_s=1.0)
    store = open_store(settings)
    app = create_app(settings, store)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://sandbox.test"
        ) as client:
            sandbox = Sandbox(client, store, demo_world)
            tiny, url = partner
            key = await sandbox.admin("GET", "/bitgo-key")
            assert key.status_code == 200, key.text
            tiny.public_pem = key.json()["publicKey"]
            hosted = await sandbox.admin(
                "PUT", f"/partners/{EXCHANGE}/hosted", json={"baseUrl": url}
            )
            assert hosted.status_code == 200, hosted.text
            yield sandbox
    finally:
        store.close()


async def connect(sandbox: Sandbox, token: str = "good-1") -> dict[str, Any]:
    answer = await sandbox.admin(
        "POST", "/connections", json={"partnerId": EXCHANGE, "connectionToken": token}
    )
    assert answer.status_code == 200, answer.text
    connection: dict[str, Any] = answer.json()["connection"]
    return connection


async def move(
    sandbox: Sandbox, connection_id: str, kind: str, quantity: int, **extra: Any
) -> httpx.Response:
    return await sandbox.admin(
        "POST",
        f"/connections/{connection_id}/{kind}s",
        json={"currency": "ofcbtc", "quantity": str(quantity), **extra},
    )
