"""The fast lane and connexion answer every staging request alike (status, body, rule)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from oeskit.http.app import create_app, open_store
from oeskit.http.fastlane import FastLane
from tests.conftest import ALPHA, BETA, STAGE, Sandbox, make_settings

pytestmark = pytest.mark.anyio
URL = STAGE.format(enterprise="ent-exchange")
TOKEN = {"Authorization": "Bearer demo-exchange-token"}
_IDS = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIMES = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


class _Bypass:
    """The same app with the fast lane stepped around: every request goes to connexion."""

    def __init__(self, app: Any) -> None:
        layer = app  # Namespaces -> Guard -> Faults -> Documents -> FastLane
        while not isinstance(layer.app, FastLane):
            layer = layer.app
        layer.app = layer.app.app


@pytest.fixture
async def pair(
    tmp_path: Path, demo_world: dict[str, Any]
) -> AsyncIterator[tuple[Sandbox, Sandbox]]:
    sandboxes = []
    clients = []
    for name, wrap in (("lane", False), ("connexion", True)):
        (tmp_path / name).mkdir()
        settings = make_settings(tmp_path / name)
        store = open_store(settings)
        app = create_app(settings, store)
        if wrap:
            _Bypass(app)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://sandbox.test"
        )
        clients.append((client, store))
        sandboxes.append(Sandbox(client, store, demo_world))
    yield sandboxes[0], sandboxes[1]
    for client, store in clients:
        await client.aclose()
        store.close()


def _normal(response: httpx.Response) -> tuple[int, str]:
    text = _TIMES.sub("<time>", _IDS.sub("<id>", response.text))
    return response.status_code, text


CASES: dict[str, Callable[[Sandbox], Any]] = {
    "staged": lambda s: s.sign(s.fields(externalId="x-1", nonce="n1")),
    "replayed": lambda s: s.sign(s.fields(externalId="x-1", nonce="n1")),
    "conflict": lambda s: s.sign(s.fields(externalId="x-1", nonce="n1", notes="other")),
    "schema": lambda s: {"externalId": "x-2"},
    "too long": lambda s: s.sign(s.fields(externalId="x-8", nonce="n8", notes="n" * 10_001)),
    "shape": lambda s: s.sign(
        s.fields({ALPHA: {"BTC": "-1"}, BETA: {ALPHA: {"BTC": "1"}}}, externalId="x-3", nonce="n3")
    ),
    "bad amount": lambda s: s.sign(s.fields({ALPHA: {"BTC": "1e3"}}, externalId="x-4", nonce="n4")),
    "422": lambda s: s.sign(
        s.fields({ALPHA: {"BTC": "-999999999999999"}}, externalId="x-5", nonce="n5")
    ),
    "tampered": lambda s: {**s.sign(s.fields(externalId="x-6", nonce="n6")), "notes": "added"},
    "bad signature": lambda s: {
        **s.sign(s.fields(externalId="x-7", nonce="n7")),
        "signature": "zz",
    },
}


async def test_both_paths_answer_alike(pair: tuple[Sandbox, Sandbox]) -> None:
    """For a sequence of good and bad requests, both paths give equal statuses and bodies."""
    lane, plain = pair
    for name, build in CASES.items():
        body = build(lane)
        answers = []
        for sandbox in (lane, plain):
            answers.append(_normal(await sandbox.client.post(URL, json=body, headers=TOKEN)))
        assert answers[0] == answers[1], name
    assert _normal(
        await lane.client.post(
            URL, content=b"{", headers={**TOKEN, "content-type": "application/json"}
        )
    ) == _normal(
        await plain.client.post(
            URL, content=b"{", headers={**TOKEN, "content-type": "application/json"}
        )
    )


async def test_lane_leaves_unusual_requests_to_connexion(pair: tuple[Sandbox, Sandbox]) -> None:
    """Without a token, or with a query string or another media type, connexion answers."""
    lane, _ = pair
    body = lane.sign(lane.fields())
    no_token = await lane.client.post(URL, json=body)
    assert no_token.status_code == 401 and no_token.json()["rule"] == "OES-AUTH-001"
    query = await lane.client.post(URL + "?x=1", json=body, headers=TOKEN)
    assert query.status_code == 400 and query.json()["rule"] in ("OES-REQ-002", "OES-READ-002")
    text = await lane.client.post(
        URL, content=b"x", headers={**TOKEN, "content-type": "text/plain"}
    )
    assert text.status_code == 415 and text.json()["rule"] == "OES-REQ-006"
