"""Fixtures of the API tests: sandboxes built with non-default settings, worlds derived from the
demo world, and the ids and routes of the demo world the tests talk about."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from oeskit.clock import utcnow
from oeskit.http.app import create_app, open_store
from oeskit.store import world_loader
from oeskit.worlds import load_world_file
from tests.conftest import DEMO, Sandbox, StoreBackend, make_settings

BROKER = "5a1f7f0e-0c1d-4f7e-9a0b-7d0d6b1e0002"
GAMMA = "e9620856-689e-4a43-9e7e-5a9e3483729b"  # gamma@exchange: only 0.001 ETH allocated
DELTA = "721f9163-d503-455a-a61a-66174cf4e215"  # delta@exchange: not initialized by the partner
BROKER_ALPHA = "68620590-8722-4d72-9abc-86634b871a09"
BROKER_BETA = "d42fc7c5-207f-49ee-91d5-5f4ffa821036"
INSTANT_GAMMA = "b05feb64-877c-4ee7-b682-9813a0522b45"  # a connection of the no-dispute partner
PAST_SETTLEMENT = "4b44a80b-871e-48fe-a8d3-331463871ce7"  # demo history, completed
CLOSED_DISPUTE = "af1ef7a9-59d0-4a1c-8468-353f09a9798c"  # approved, not yet carried
CLOSED_DISPUTE_CLOSURE = "30adfe14-c201-4427-9c89-e89cb1f8f73c"

V1 = "/api/network/v1/enterprises/{enterprise}/partners"
SETTLEMENTS = V1.format(enterprise="ent-exchange") + "/settlements"
BALANCES = V1.format(enterprise="ent-exchange") + "/balances"
DISPUTES = V1.format(enterprise="ent-exchange") + "/settlement/disputes"
SIGNING = V1.format(enterprise="ent-exchange") + "/settlements-signing"

SandboxFactory = Callable[..., AbstractAsyncContextManager[Sandbox]]


@pytest.fixture(scope="module")
def shared_app(
    tmp_path_factory: pytest.TempPathFactory, store_backend: StoreBackend
) -> Iterator[tuple[Any, Any, Any]]:
    """One app per module and store (building one parses the contract: about a second)."""
    directory = tmp_path_factory.mktemp("shared")
    settings = make_settings(directory, db=store_backend.db(directory))
    store = open_store(settings)
    app = create_app(settings, store)
    yield settings, store, app
    store.close()


@pytest.fixture(scope="module")
def demo_world_validated() -> dict[str, Any]:
    return load_world_file(DEMO)


@pytest.fixture
async def sb(
    shared_app: tuple[Any, Any, Any],
    demo_world: dict[str, Any],
    demo_world_validated: dict[str, Any],
) -> AsyncIterator[Sandbox]:
    """Like the `sandbox` fixture (demo world, frozen clock, responses validated, no background
    jobs), but on the module's app with the demo world loaded afresh."""
    settings, store, app = shared_app
    world_loader.load_world(store, demo_world_validated, utcnow(), settings.clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test") as client:
        yield Sandbox(client, store, demo_world)


@pytest.fixture
def make_sandbox(
    tmp_path: Path, demo_world: dict[str, Any], store_backend: StoreBackend
) -> SandboxFactory:
    """Build an in-process sandbox with settings overrides (body limit, busy timeout...)."""
    counter = [0]

    @asynccontextmanager
    async def factory(**overrides: Any) -> AsyncIterator[Sandbox]:
        counter[0] += 1
        directory = tmp_path / f"sandbox-{counter[0]}"
        directory.mkdir()
        overrides.setdefault("db", store_backend.db(directory))
        settings = make_settings(directory, **overrides)
        store = open_store(settings)
        app = create_app(settings, store)
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(
                transport=transport, base_url="http://sandbox.test"
            ) as client:
                yield Sandbox(client, store, demo_world)
        finally:
            store.close()

    return factory


def world_with(demo_world: dict[str, Any], **partner_changes: Any) -> dict[str, Any]:
    """The demo world with changes to Demo Exchange's partner record."""
    world = copy.deepcopy(demo_world)
    exchange = next(p for p in world["partners"] if p["enterpriseId"] == "ent-exchange")
    exchange.update(partner_changes)
    return world


async def load_world(sandbox: Sandbox, world: dict[str, Any]) -> None:
    response = await sandbox.admin("POST", "/world", json=world)
    assert response.status_code == 200, response.text


async def advance(sandbox: Sandbox, minutes: float) -> dict[str, Any]:
    response = await sandbox.admin("POST", "/clock", json={"advanceMinutes": minutes})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def adjust(
    sandbox: Sandbox,
    currency: str,
    amount: int,
    *,
    connection: str | None = None,
    partner: str | None = None,
) -> dict[str, Any]:
    """Move a connection's (or the partner's own) available balance through the control plane."""
    body: dict[str, Any] = {"currency": currency, "amount": str(amount)}
    if connection:
        body["connectionId"] = connection
    if partner:
        body["partnerId"] = partner
    response = await sandbox.admin("POST", "/balances", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["balance"]
    return result


async def get_with_commas(sandbox: Sandbox, path: str, **params: Any) -> httpx.Response:
    """GET as the exchange with commas left literal in the query, the separator the contract
    offers (httpx's own `params=` sends them as %2C, which is data in a free-form filter)."""
    query = urlencode(params, doseq=True, safe=",")
    return await sandbox.client.get(
        f"{path}?{query}" if query else path,
        headers={"Authorization": "Bearer demo-exchange-token"},
    )


async def settlement_detail(sandbox: Sandbox, settlement_id: str, **params: Any) -> dict[str, Any]:
    response = await get_with_commas(sandbox, f"{SETTLEMENTS}/{settlement_id}", **params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def connection_balance(sandbox: Sandbox, connection: str, code: str) -> dict[str, str]:
    """A connection's balance in one partner currency, as the partner balances route shows it."""
    response = await sandbox.get(BALANCES)
    assert response.status_code == 200, response.text
    balance: dict[str, str] = response.json()["networkBalances"][connection]["balances"][code]
    return balance


async def partner_balance(sandbox: Sandbox, code: str) -> dict[str, str]:
    response = await sandbox.get(BALANCES)
    assert response.status_code == 200, response.text
    balance: dict[str, str] = response.json()["balances"][code]
    return balance
