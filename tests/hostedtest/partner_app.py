"""An exchange's partner-hosted endpoints, written for the tests from the decisions of issue 19
alone (not from oeskit.hosted): Starlette, state in memory, one asyncio lock around every
check-then-write. `oeskit hosted-test` must pass against it; tests/hostedtest/partner_defects.py
derives the copies with one planted defect each by overriding a method of `PartnerApp`.

It verifies the X-BitGo-Signature JWT with PyJWT directly, as a partner would, so the grader's
signing is not checked by its own code.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

QUANTITY = re.compile(r"^[1-9][0-9]*$")
UUID_TEXT = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
LEEWAY_S = 5
# A database round trip between the lookup and the insert: what makes racing duplicates real.
# Taken where hosted-test races (the first allocation of a connection); every other insert only
# yields to the event loop (0.01 s on each of a run's ~70 records was 0.7 s a run).
IO_DELAY_S = 0.01


class Refusal(Exception):
    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status, self.error = status, error


@dataclass
class PartnerConfig:
    bitgo_public_pem: str
    partner_id: str
    tokens: set[str]
    check_binding: bool = True


@dataclass
class Ledger:
    credited: int = 0  # cleared allocations
    held: int = 0  # reserved deallocations
    debited: int = 0  # cleared deallocations

    @property
    def free(self) -> int:
        return self.credited - self.held - self.debited


@dataclass
class PartnerState:
    connections: dict[str, dict[str, Any]] = field(default_factory=dict)
    account_of_token: dict[str, str] = field(default_factory=dict)
    # One dict for both kinds: the shared unique index of allocation and deallocation ids.
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    ledgers: dict[tuple[str, str], Ledger] = field(default_factory=dict)
    seen_jti: set[str] = field(default_factory=set)


class PartnerApp:
    """The endpoints; each step a partner could get wrong is a method a defect may override."""

    def __init__(self, config: PartnerConfig) -> None:
        self.config = config
        self.state = PartnerState()
        self.lock = asyncio.Lock()
        self.io_delay_s = IO_DELAY_S
        self.allocating: set[str] = set()  # connections that have sent an allocation

    def asgi(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/bitgo/v1/connections", self.connections, methods=["POST"]),
                Route("/bitgo/v1/allocations", self.post_allocation, methods=["POST"]),
                Route("/bitgo/v1/deallocations", self.post_deallocation, methods=["POST"]),
                Route("/bitgo/v1/allocation/{id}/{action}", self.put_allocation, methods=["PUT"]),
                Route(
                    "/bitgo/v1/deallocation/{id}/{action}", self.put_deallocation, methods=["PUT"]
                ),
            ]
        )

    # ---- signature --------------------------------------------------------------------------

    def claims(self, token: str) -> dict[str, Any]:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != "RS256":
            raise Refusal(401, "only RS256 tokens are accepted")
        claims: dict[str, Any] = jwt.decode(
            token,
            self.config.bitgo_public_pem,
            algorithms=["RS256"],
            options={"require": ["iat", "exp", "jti"]},
            leeway=LEEWAY_S,
        )
        return claims

    def check_lifetime(self, claims: dict[str, Any]) -> None:
        if int(claims["exp"]) - int(claims["iat"]) > 60:
            raise Refusal(401, "the token lives longer than 60 s")

    def check_fresh(self, jti: str) -> None:
        if jti in self.state.seen_jti:
            raise Refusal(401, "this jti was seen before")
        self.state.seen_jti.add(jti)

    def authenticate(self, request: Request, body: bytes) -> None:
        token = request.headers.get("x-bitgo-signature")
        if not token:
            raise Refusal(401, "X-BitGo-Signature is missing")
        try:
            claims = self.claims(token)
        except jwt.PyJWTError as exc:
            raise Refusal(401, f"bad token: {exc}") from exc
        self.check_lifetime(claims)
        if self.config.check_binding:
            path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            digest = base64.urlsafe_b64encode(hashlib.sha256(body).digest()).rstrip(b"=")
            bound = {"method": request.method, "path": path, "bodySha256": digest.decode()}
            if any(claims.get(k) != v for k, v in bound.items()):
                raise Refusal(401, "the token is bound to another request")
        self.check_fresh(str(claims["jti"]))

    # ---- plumbing ---------------------------------------------------------------------------

    async def handle(self, request: Request, work: Any) -> JSONResponse:
        body = await request.body()
        try:
            self.authenticate(request, body)
            status, data = await work(body)
        except Refusal as refusal:
            return JSONResponse({"error": refusal.error}, status_code=refusal.status)
        return JSONResponse(data, status_code=status)

    async def io(self, kind: str, data: dict[str, Any]) -> None:
        """A database round trip between the lookup and the insert of a `kind` record."""
        first = kind == "allocation" and data["connectionId"] not in self.allocating
        if first:
            self.allocating.add(data["connectionId"])
        await asyncio.sleep(self.io_delay_s if first else 0)

    @asynccontextmanager
    async def guard(self) -> AsyncIterator[None]:
        async with self.lock:
            yield

    def parse(self, body: bytes, fields: dict[str, str]) -> dict[str, Any]:
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise Refusal(400, "the body is not JSON") from exc
        if not isinstance(data, dict):
            raise Refusal(400, "the body is not an object")
        for name, kind in fields.items():
            value = data.get(name)
            ok = {
                "uuid": isinstance(value, str) and bool(UUID_TEXT.match(value)),
                "text": isinstance(value, str) and value != "",
                "amount": isinstance(value, dict)
                and isinstance(value.get("currency"), str)
                and value["currency"] != ""
                and isinstance(value.get("quantity"), str)
                and bool(QUANTITY.match(value["quantity"])),
            }[kind]
            if not ok:
                raise Refusal(400, f"{name} is missing or malformed")
        return {name: data[name] for name in fields}

    # ---- connections ------------------------------------------------------------------------

    async def connections(self, request: Request) -> JSONResponse:
        return await self.handle(request, self.connect)

    async def connect(self, body: bytes) -> tuple[int, dict[str, Any]]:
        fields = {"clientId": "uuid", "connectionId": "uuid", "connectionToken": "text"}
        data = self.parse(body, {**fields, "partnerId": "uuid"})
        if data["partnerId"].lower() != self.config.partner_id.lower():
            raise Refusal(400, "partnerId is not this partner's")
        async with self.guard():
            existing = self.state.connections.get(data["connectionId"])
            if existing is not None:
                if any(existing[k] != data[k] for k in data):
                    raise Refusal(409, "this connectionId was used with other properties")
                return 200, self.present_connection(existing)
            token = data["connectionToken"]
            if token not in self.config.tokens:
                raise Refusal(422, "unknown connection token")
            self.check_account_free(token)
            await self.io("connection", data)
            record = {**data, "partnersClientId": f"user-{token}"}
            record["partnersConnectionId"] = f"acct-{uuid.uuid4().hex[:12]}"
            self.state.connections[data["connectionId"]] = record
            self.state.account_of_token[token] = data["connectionId"]
        return 200, self.present_connection(record)

    def check_account_free(self, token: str) -> None:
        if token in self.state.account_of_token:
            raise Refusal(409, "this account already has a connection")

    def present_connection(self, record: dict[str, Any]) -> dict[str, Any]:
        keys = ("clientId", "connectionId", "partnersClientId", "partnersConnectionId")
        return {k: record[k] for k in keys}

    # ---- allocations and deallocations -------------------------------------------------------

    async def post_allocation(self, request: Request) -> JSONResponse:
        return await self.handle(request, lambda body: self.reserve("allocation", body))

    async def post_deallocation(self, request: Request) -> JSONResponse:
        return await self.handle(request, lambda body: self.reserve("deallocation", body))

    def request_fields(self, kind: str) -> dict[str, str]:
        return {
            f"{kind}Id": "uuid",
            "amount": "amount",
            "clientId": "uuid",
            "connectionId": "uuid",
            "partnersConnectionId": "text",
            "partnersClientId": "text",
        }

    def find(self, kind: str, record_id: str) -> dict[str, Any] | None:
        """The record with this id, whichever kind it is (one index for both)."""
        return self.state.records.get(record_id)

    def ledger(self, record: dict[str, Any]) -> Ledger:
        key = (record["partnersConnectionId"], record["amount"]["currency"])
        return self.state.ledgers.setdefault(key, Ledger())

    async def reserve(self, kind: str, body: bytes) -> tuple[int, dict[str, Any]]:
        data = self.parse(body, self.request_fields(kind))
        record_id = data[f"{kind}Id"]
        async with self.guard():
            existing = self.find(kind, record_id)
            if existing is not None:
                return self.retry(kind, existing, data)
            connection = self.state.connections.get(data["connectionId"])
            if connection is None:
                raise Refusal(404, "unknown connection")
            for name in ("partnersConnectionId", "partnersClientId", "clientId"):
                if connection[name] != data[name]:
                    raise Refusal(404, f"{name} does not match the connection")
            await self.io(kind, data)
            record = self.create(kind, data)
        return 200, self.present(record)

    def retry(
        self, kind: str, existing: dict[str, Any], data: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        if existing["kind"] != kind:
            raise Refusal(409, "this id is already used by the other kind")
        if any(existing[k] != v for k, v in data.items()):
            raise Refusal(409, "this id was used with other properties")
        return 200, self.present(existing)

    def create(self, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        record = {**data, "kind": kind, "status": "reserved"}
        record[f"partners{kind[0].upper()}{kind[1:]}Id"] = f"{kind[:5]}-{uuid.uuid4().hex}"
        if kind == "deallocation":
            ledger = self.ledger(record)
            wanted = int(data["amount"]["quantity"])
            if not self.affordable(ledger, wanted):
                record["status"] = "rejected"
                record["rejectionReason"] = f"free balance {ledger.free} is below {wanted}"
            else:
                ledger.held += wanted
        self.save(kind, data[f"{kind}Id"], record)
        return record

    def save(self, kind: str, record_id: str, record: dict[str, Any]) -> None:
        self.state.records[record_id] = record

    def affordable(self, ledger: Ledger, wanted: int) -> bool:
        return wanted <= ledger.free

    def present(self, record: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in record.items() if k != "kind"}

    # ---- clear and release ------------------------------------------------------------------

    async def put_allocation(self, request: Request) -> JSONResponse:
        return await self.put(request, "allocation")

    async def put_deallocation(self, request: Request) -> JSONResponse:
        return await self.put(request, "deallocation")

    async def put(self, request: Request, kind: str) -> JSONResponse:
        record_id, action = request.path_params["id"], request.path_params["action"]
        if action not in ("clear", "release"):
            return JSONResponse({"error": "no such route"}, status_code=404)
        return await self.handle(request, lambda body: self.settle(kind, record_id, action))

    async def settle(self, kind: str, record_id: str, action: str) -> tuple[int, dict[str, Any]]:
        async with self.guard():
            record = self.find(kind, record_id)
            if record is None or record["kind"] != kind:
                return self.unknown(kind, record_id, action)
            target = "cleared" if action == "clear" else "released"
            if record["status"] == target:
                return 200, self.present(record)
            if record["status"] != "reserved":
                raise Refusal(409, f"the {kind} is {record['status']}; it cannot be {target}")
            quantity = int(record["amount"]["quantity"])
            ledger = self.ledger(record)
            if kind == "allocation" and target == "cleared":
                ledger.credited += quantity
            elif kind == "deallocation":
                ledger.held -= quantity
                ledger.debited += quantity if target == "cleared" else 0
            record["status"] = target
        return 200, self.present(record)

    def unknown(self, kind: str, record_id: str, action: str) -> tuple[int, dict[str, Any]]:
        raise Refusal(404, f"no {kind} {record_id}")
