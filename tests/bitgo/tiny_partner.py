"""A tiny partner, written apart from oeskit (plain ASGI, PyJWT), serving the endpoints BitGo
calls on an exchange, on a real loopback server. It checks every X-BitGo-Signature itself,
keeps what it saw, and can be told to fail: answer 500 to its first calls, sleep, redirect,
reject allocations, or update allocations through BitGo's async PUT itself (the test does it).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import jwt

from tests.threaded import serve


@dataclass
class Seen:
    """One request the partner received, with the claims of its verified token."""

    method: str
    path: str
    body: dict[str, Any] | None
    claims: dict[str, Any] | None
    problem: str | None
    status: int


@dataclass
class TinyPartner:
    public_pem: str | None = None
    fail_first: int = 0  # answer 500 to this many calls, whatever they are
    sleep_first_s: float = 0.0  # sleep this long on the first call
    redirect: bool = False
    reject_allocations: bool = False
    status_for_new: str = "reserved"
    seen: list[Seen] = field(default_factory=list)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    accounts: dict[str, str] = field(default_factory=dict)  # token -> connection id
    calls: int = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.calls += 1
        number = self.calls
        if number == 1 and self.sleep_first_s:
            await asyncio.sleep(self.sleep_first_s)
        status, answer = self._handle(scope, body, number)
        headers = [(b"content-type", b"application/json")]
        if status == 307:
            headers.append((b"location", b"http://127.0.0.1:9/elsewhere"))
        data = json.dumps(answer).encode()
        headers.append((b"content-length", str(len(data)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    def _handle(self, scope: dict[str, Any], raw: bytes, number: int) -> tuple[int, Any]:
        method, path = scope["method"], scope["path"]
        parsed = json.loads(raw) if raw else None
        claims, problem = self._verify(scope, raw)
        status, answer = 200, {}
        if problem:
            status, answer = 401, {"error": problem}
        elif number <= self.fail_first:
            status, answer = 500, {"error": "temporarily unavailable"}
        elif self.redirect:
            status, answer = 307, {"error": "moved"}
        elif method == "POST" and path == "/bitgo/v1/connections":
            status, answer = self._connect(parsed)
        elif method == "POST" and path in ("/bitgo/v1/allocations", "/bitgo/v1/deallocations"):
            status, answer = self._reserve(path.split("/")[-1][:-1], parsed)
        elif method == "PUT" and path.endswith("/clear"):
            record = self.records.get(path.split("/")[-2])
            if record is None:
                status, answer = 404, {"error": "unknown id"}
            else:
                record["status"] = "cleared"
                answer = record
        else:
            status, answer = 404, {"error": "no such route"}
        self.seen.append(Seen(method, path, parsed, claims, problem, status))
        return status, answer

    def _verify(
        self, scope: dict[str, Any], raw: bytes
    ) -> tuple[dict[str, Any] | None, str | None]:
        token = dict(scope["headers"]).get(b"x-bitgo-signature", b"").decode()
        if not token or self.public_pem is None:
            return None, "no X-BitGo-Signature"
        try:
            claims: dict[str, Any] = jwt.decode(
                token, self.public_pem, algorithms=["RS256"], options={"require": ["jti"]}
            )
        except jwt.PyJWTError as exc:
            return None, f"bad token: {exc}"
        digest = base64.urlsafe_b64encode(hashlib.sha256(raw).digest()).rstrip(b"=").decode()
        if claims.get("exp", 0) - claims.get("iat", 0) > 60 or claims["exp"] < time.time() - 5:
            return claims, "token lives too long or expired"
        if (claims.get("method"), claims.get("path"), claims.get("bodySha256")) != (
            scope["method"],
            scope["path"],
            digest,
        ):
            return claims, "token made for another request"
        if any(s.claims and s.claims.get("jti") == claims["jti"] for s in self.seen):
            return claims, "jti replayed"
        return claims, None

    def _connect(self, body: dict[str, Any]) -> tuple[int, Any]:
        token = body["connectionToken"]
        if not token.startswith("good-"):
            return 422, {"error": "unknown connection token"}
        self.accounts.setdefault(token, body["connectionId"])
        if self.accounts[token] != body["connectionId"]:
            return 409, {"error": "account already connected"}
        return 200, {
            "clientId": body["clientId"],
            "connectionId": body["connectionId"],
            "partnersClientId": f"user-{token}",
            "partnersConnectionId": f"acct-{token}",
        }

    def _reserve(self, noun: str, body: dict[str, Any]) -> tuple[int, Any]:
        record_id = body[f"{noun}Id"]
        if record_id in self.records:
            return 200, self.records[record_id]
        record = {**body, f"partners{noun.capitalize()}Id": f"p-{len(self.records) + 1}"}
        if noun == "allocation" and self.reject_allocations:
            record.update(status="rejected", rejectionReason="allocations are closed today")
        else:
            record["status"] = self.status_for_new
        self.records[record_id] = record
        return 200, record

    def ids_seen(self, noun: str) -> list[str]:
        return [s.body[f"{noun}Id"] for s in self.seen if s.body and f"{noun}Id" in s.body]


@contextmanager
def serving(partner: TinyPartner) -> Iterator[str]:
    """Serve `partner` with uvicorn on a free loopback port, on a thread; yield its base URL."""
    with serve(partner, lifespan="off") as base_url:
        yield base_url
