"""Defect-injected variants of the reference, built only here: an ASGI wrapper around the real
app that rewrites requests or responses, served by uvicorn in a thread on a free port."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from oeskit import signing
from oeskit.conformance.profile import sandbox_profile
from oeskit.http.app import create_app
from tests.conftest import ADMIN, make_settings
from tests.threaded import serve

Scope = dict[str, Any]
Reply = tuple[int, dict[str, str], bytes]
RequestHook = Callable[[Scope, bytes, Any], Awaitable["bytes | Reply"]]
ResponseHook = Callable[[Scope, bytes, int, bytes], tuple[int, bytes]]

PROFILE = sandbox_profile(ADMIN)
KEY_OF_ENTERPRISE = {
    v: PROFILE.keys[k] for k, v in PROFILE.enterprises.items() if k in PROFILE.keys
}


class DefectApp:
    """Buffers each HTTP request, lets `on_request` rewrite (or answer) it, forwards it to the
    real app, and lets `on_response` rewrite the status and body."""

    def __init__(
        self,
        app: Any,
        on_request: RequestHook | None = None,
        on_response: ResponseHook | None = None,
    ) -> None:
        self.app, self.on_request, self.on_response = app, on_request, on_response

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if self.on_request is not None:
            outcome = await self.on_request(scope, body, self.app)
            if isinstance(outcome, tuple):
                await _reply(send, *outcome)
                return
            body = outcome
        scope = dict(
            scope,
            headers=[(k, v) for k, v in scope["headers"] if k != b"content-length"]
            + [(b"content-length", str(len(body)).encode())],
        )
        delivered = False

        async def inner_receive() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # never disconnect while the app is working
            return {"type": "http.disconnect"}

        status, headers, chunks = 500, [], []

        async def inner_send(message: dict[str, Any]) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status, headers = message["status"], list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, inner_receive, inner_send)
        out = b"".join(chunks)
        if self.on_response is not None:
            status, out = self.on_response(scope, body, status, out)
        kept = {k.decode(): v.decode() for k, v in headers if k.lower() != b"content-length"}
        await _reply(send, status, kept, out)


async def _reply(send: Any, status: int, headers: dict[str, str], body: bytes) -> None:
    raw = [
        (k.encode(), v.encode()) for k, v in headers.items() if k.lower() != "content-length"
    ] + [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


@contextmanager
def serve_defect(
    tmp_path: Path, on_request: RequestHook | None = None, on_response: ResponseHook | None = None
) -> Iterator[str]:
    app = DefectApp(
        create_app(make_settings(tmp_path, run_jobs=True, validate_responses=False)),
        on_request,
        on_response,
    )
    with serve(app) as base_url:
        yield base_url


# ---- the defects ------------------------------------------------------------------------------


def _stage_body(scope: Scope, body: bytes) -> dict[str, Any] | None:
    if scope["method"] != "POST" or "/v2/" not in scope["path"]:
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _enterprise(scope: Scope) -> str:
    return scope["path"].split("/enterprises/")[1].split("/")[0]


async def resign_everything(scope: Scope, body: bytes, app: Any) -> bytes:
    """Signatures not checked: whatever arrives is re-signed with the partner's real key."""
    data = _stage_body(scope, body)
    key = KEY_OF_ENTERPRISE.get(_enterprise(scope)) if data else None
    if data is None or key is None or not isinstance(data.get("payload"), str):
        return body
    data["signature"] = signing.sign_message(data["payload"], key)
    return json.dumps(data).encode()


async def payload_not_bound(scope: Scope, body: bytes, app: Any) -> bytes:
    """The body's signed fields are replaced by the payload's, so any body difference passes."""
    data = _stage_body(scope, body)
    if data is None:
        return body
    try:
        fields = json.loads(data.get("payload", ""))
    except (TypeError, ValueError):
        return body
    if not isinstance(fields, dict):
        return body
    for name in signing.SIGNED_FIELDS:
        data.pop(name, None)
    data.update(fields)
    return json.dumps(data).encode()


async def replay_creates_new(scope: Scope, body: bytes, app: Any) -> bytes:
    """Every staging gets a fresh externalId (re-signed), so a replay makes a second settlement."""
    data = _stage_body(scope, body)
    key = KEY_OF_ENTERPRISE.get(_enterprise(scope)) if data else None
    if data is None or key is None or "externalId" not in data:
        return body
    fields = {k: v for k, v in data.items() if k not in ("payload", "signature")}
    fields["externalId"] = f"{fields['externalId']}-{uuid.uuid4().hex[:8]}"
    return json.dumps(signing.sign_body(fields, key)).encode()


async def top_up_first(scope: Scope, body: bytes, app: Any) -> bytes:
    """Liabilities not checked: every debited balance is topped up before the request runs."""
    data = _stage_body(scope, body)
    amounts = data.get("settlementAmounts") if data else None
    if not isinstance(amounts, dict):
        return body
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://inner") as client:
        for connection, by_currency in amounts.items():
            for code, amount in (by_currency or {}).items():
                if isinstance(amount, str) and amount.startswith("-"):
                    await client.post(
                        "/sandbox/balances",
                        headers={"Authorization": f"Bearer {ADMIN}"},
                        json={
                            "connectionId": connection,
                            "currency": "ofc" + code.lower(),
                            "amount": amount[1:] + "0",
                        },
                    )
    return body


async def crash_on_malformed(scope: Scope, body: bytes, app: Any) -> bytes | Reply:
    """A 500 (with a stack-trace-ish body) when the body is not JSON."""
    if scope["method"] == "POST" and body:
        try:
            json.loads(body)
        except ValueError:
            return (
                500,
                {"content-type": "application/json"},
                json.dumps({"error": "Traceback: JSONDecodeError", "rule": "OES-SRV-001"}).encode(),
            )
    return body


def _rewrite_json(out: bytes, change: Callable[[Any], None]) -> bytes:
    try:
        data = json.loads(out)
    except ValueError:
        return out
    change(data)
    return json.dumps(data).encode()


def conflict_as_200(scope: Scope, body: bytes, status: int, out: bytes) -> tuple[int, bytes]:
    return (200 if status == 409 else status), out


def scope_ignored(scope: Scope, body: bytes, status: int, out: bytes) -> tuple[int, bytes]:
    return (200 if status == 403 and b"OES-AUTH-002" in out else status), out


def disputes_unassigned(scope: Scope, body: bytes, status: int, out: bytes) -> tuple[int, bytes]:
    if status != 200 or "/v2/" not in scope["path"]:
        return status, out
    return status, _rewrite_json(out, lambda d: d["settlement"].update(settlingDisputes=[]))


def schema_broken(scope: Scope, body: bytes, status: int, out: bytes) -> tuple[int, bytes]:
    if status != 200 or "/v2/" not in scope["path"]:
        return status, out
    return status, _rewrite_json(out, lambda d: d["settlement"].pop("partnerId", None))


def rule_dropped(scope: Scope, body: bytes, status: int, out: bytes) -> tuple[int, bytes]:
    if status < 400:
        return status, out
    return status, _rewrite_json(out, lambda d: d.pop("rule", None))


def bad_date_time(scope: Scope, body: bytes, status: int, out: bytes) -> tuple[int, bytes]:
    """createdAt is shaped like a date-time but no such day exists (`format: date-time`)."""
    if status != 200 or "/v2/" not in scope["path"]:
        return status, out
    return status, _rewrite_json(
        out, lambda d: d["settlement"].update(createdAt="2026-02-30T00:00:00Z")
    )
