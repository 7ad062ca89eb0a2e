"""The Guard's last line of defence: no problem+json or rule-less error body leaves the server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from oeskit import spec
from oeskit.http.errors import ErrorMapper
from oeskit.http.guard import Guard
from oeskit.http.services import Services, using
from oeskit.settings import Settings
from oeskit.store.sqlite import SqliteStore

pytestmark = pytest.mark.anyio


def _with(services: Services, app: Any) -> Any:
    """`app` with `services` current, as the namespace layer makes it for each request."""

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        with using(services):
            await app(scope, receive, send)

    return wrapped


def _app(status: int, content_type: bytes, body: bytes) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", content_type)],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


@pytest.mark.parametrize(
    ("status", "content_type", "body", "rule", "message"),
    [
        (
            400,
            b"application/problem+json",
            b'{"title":"Bad Request","detail":"bad thing"}',
            "OES-REQ-002",
            "bad thing",
        ),
        (404, b"text/plain", b"Not Found", "OES-REQ-004", "request failed"),
        (
            500,
            b"application/json",
            b'{"error":"no rule here"}',
            "OES-SRV-001",
            "unexpected server error; it was logged as request ",
        ),
    ],
    ids=["problem-json", "plain-text-404", "error-without-rule"],
)
async def test_error_bodies_are_rewritten(
    tmp_path: Path, status: int, content_type: bytes, body: bytes, rule: str, message: str
) -> None:
    """An inner error response without our shape reaches the client as {error, rule}."""
    store = SqliteStore(str(tmp_path / "g.db"))
    services = Services(
        Settings(db=str(tmp_path / "g.db")), store, ErrorMapper(spec.rule_statuses())
    )
    guard = _with(services, Guard(_app(status, content_type, body)))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=guard), base_url="http://t"
    ) as client:
        response = await client.get("/anything")
    store.close()
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    answer = orjson.loads(response.content)
    assert answer["rule"] == rule
    assert answer["error"] == message or answer["error"].startswith(message)


async def test_bodies_that_carry_a_rule_pass_unchanged(tmp_path: Path) -> None:
    """An error body that already has a rule id is passed through byte for byte."""
    original = b'{"error":"x","rule":"OES-AMT-005"}'
    store = SqliteStore(str(tmp_path / "g.db"))
    services = Services(
        Settings(db=str(tmp_path / "g.db")), store, ErrorMapper(spec.rule_statuses())
    )
    guard = _with(services, Guard(_app(400, b"application/json", original)))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=guard), base_url="http://t"
    ) as client:
        response = await client.get("/anything")
    store.close()
    assert response.content == original
