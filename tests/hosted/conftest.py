"""Fixtures of the reference partner's tests: BitGo's RSA key pair, a partner app over a real
SQLite file with fresh accounts, and `Bitgo`, a client that signs every call as BitGo does."""

from __future__ import annotations

import functools
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from oeskit import schemas, spec
from oeskit.hosted.app import PartnerConfig, create_app
from oeskit.hosted.rules import Account
from oeskit.hosted.store import HostedStore
from oeskit.signing import bitgo_jwt

PARTNER_ID = "7f1e3c2a-5b4d-4e6f-8a9b-0c1d2e3f4a5b"
CONTRACT = spec.load(spec.partner_hosted_path())


def contract_problems(method: str, path: str, status: int, body: Any) -> list[str]:
    """How an answer breaks partner-hosted.yaml (undeclared status, body off its schema);
    [] for a path the contract does not have (the router's own 404 and 405)."""
    for template, item in CONTRACT["paths"].items():
        pattern = re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path) and method.lower() in item:
            responses = item[method.lower()]["responses"]
            break
    else:
        return []
    if str(status) not in responses:
        return [f"{method} {path}: status {status} is not declared"]
    response = responses[str(status)]
    if "$ref" in response:
        response = CONTRACT["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    schema = response["content"]["application/json"]["schema"]
    validator = schemas.compile(CONTRACT, schema, direction="response")
    return [f"{p.where}: {p.message}" for p in validator.problems(body, limit=None)]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def bitgo_keys() -> bitgo_jwt.RsaKeyPair:
    return bitgo_jwt.generate_key_pair()


@functools.lru_cache(maxsize=4)
def loaded_key(private_pem: str) -> rsa.RSAPrivateKey:
    """The private key parsed once (parsing costs ~40 ms, a signature 0.4 ms)."""
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


@dataclass
class Bitgo:
    """Calls the partner as BitGo: each request signed with a fresh token bound to it."""

    client: httpx.AsyncClient
    private_pem: str
    store: HostedStore
    accounts: list[Account]
    used: list[int] = field(default_factory=lambda: [0])

    def token(self, method: str, path: str, body: bytes = b"", **options: Any) -> str:
        return bitgo_jwt.sign(
            loaded_key(self.private_pem),
            now=int(time.time()),
            method=method,
            path=path,
            body=body,
            **options,
        )

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        unsigned: bool = False,
        **options: Any,
    ) -> httpx.Response:
        """`body` a dict (sent as JSON), bytes (sent as they are) or None (no body)."""
        raw = (
            body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
        )
        headers = {"Content-Type": "application/json"}
        if not unsigned:
            headers[bitgo_jwt.HEADER] = token or self.token(method, path, raw, **options)
        response = await self.client.request(method, path, content=raw, headers=headers)
        # Every answer of the reference matches the contract (PH-RSP-001), in every test.
        assert contract_problems(method, path, response.status_code, response.json()) == []
        return response

    def next_token(self) -> str:
        account = self.accounts[self.used[0]]
        self.used[0] += 1
        return account.connection_token

    def connection_request(self, token: str | None = None, **overrides: Any) -> dict[str, Any]:
        return {
            "clientId": str(uuid.uuid4()),
            "connectionId": str(uuid.uuid4()),
            "connectionToken": token or self.next_token(),
            "partnerId": PARTNER_ID,
            **overrides,
        }

    async def connect(self) -> dict[str, Any]:
        response = await self.call("POST", "/bitgo/v1/connections", self.connection_request())
        assert response.status_code == 200, response.text
        connection: dict[str, Any] = response.json()
        return connection

    @staticmethod
    def reservation(
        kind: str, connection: dict[str, Any], quantity: int | str, currency: str = "BTC"
    ) -> dict[str, Any]:
        return {
            f"{kind}Id": str(uuid.uuid4()),
            "amount": {"currency": currency, "quantity": str(quantity)},
            "clientId": connection["clientId"],
            "connectionId": connection["connectionId"],
            "partnersConnectionId": connection["partnersConnectionId"],
            "partnersClientId": connection["partnersClientId"],
        }

    async def post(self, kind: str, body: dict[str, Any]) -> httpx.Response:
        return await self.call("POST", f"/bitgo/v1/{kind}s", body)

    async def put(self, kind: str, record_id: str, action: str) -> httpx.Response:
        return await self.call("PUT", f"/bitgo/v1/{kind}/{record_id}/{action}")

    async def funded(self, quantity: int, currency: str = "BTC") -> dict[str, Any]:
        """A new connection with `quantity` allocated and cleared."""
        connection = await self.connect()
        allocation = self.reservation("allocation", connection, quantity, currency)
        assert (await self.post("allocation", allocation)).status_code == 200
        cleared = await self.put("allocation", allocation["allocationId"], "clear")
        assert cleared.json()["status"] == "cleared", cleared.text
        return connection


def make_store(path: Path) -> tuple[HostedStore, list[Account]]:
    store = HostedStore(path)
    store.partner_id(PARTNER_ID)
    return store, store.create_accounts(12)


@pytest.fixture
async def bitgo(tmp_path: Path, bitgo_keys: bitgo_jwt.RsaKeyPair) -> AsyncIterator[Bitgo]:
    store, accounts = make_store(tmp_path / "partner.db")
    app = create_app(PartnerConfig(PARTNER_ID, bitgo_keys.public_pem), store)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://partner.test") as client:
        yield Bitgo(client, bitgo_keys.private_pem, store, accounts)
