"""What the benchmark sends: generated worlds (N connections, generous balances) and signed bodies.

The partners reuse the demo world's ids, tokens and test keys (fixtures/worlds/demo.yaml), so a
bench world is the demo's shape at any size. Bodies are signed before any timing starts.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import yaml

from oeskit import fixtures, signing

ROOT = Path(__file__).resolve().parents[1]
DEMO = fixtures.world_path("demo")
CONTRACT = ROOT / "openapi.yaml"

EXCHANGE = "5a1f7f0e-0c1d-4f7e-9a0b-7d0d6b1e0001"
EXCHANGE_ENTERPRISE = "ent-exchange"
EXCHANGE_TOKEN = "demo-exchange-token"  # noqa: S105 - the demo world's test token
BROKER = "5a1f7f0e-0c1d-4f7e-9a0b-7d0d6b1e0002"
BROKER_ENTERPRISE = "ent-broker"
BROKER_TOKEN = "demo-broker-token"  # noqa: S105 - the demo world's test token
ALPHA = "09684b38-49ed-4cf6-a28e-c3a459494c69"
BETA = "136c1c69-8654-484f-8c5f-591b334a084f"

STAGE_PATH = "/api/network/v2/enterprises/{enterprise}/partners/settlements"
READ_PATH = "/api/network/v1/enterprises/{enterprise}/partners/settlements"
CUTOFF = "2026-11-01T00:00:00.000Z"
# (partner code, BitGo currency, decimals): five currencies for the big settlements.
CURRENCIES = (
    ("BTC", "ofcbtc", 8),
    ("ETH", "ofceth", 18),
    ("USDC", "ofcusdc", 6),
    ("XRP", "ofcxrp", 6),
    ("SOL", "ofcsol", 9),
)
GENEROUS = "1" + "0" * 30  # no staging in a bench run can exhaust it


@cache
def _demo() -> dict[str, Any]:
    demo: dict[str, Any] = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    return demo


@cache
def partner_key(partner_id: str) -> signing.SigningKey:
    """The demo partner's ed25519 test key (it has a private key)."""
    partner = next(p for p in _demo()["partners"] if p["id"] == partner_id)
    key = next(
        k
        for k in partner["signingKeys"]
        if k.get("scheme", "ed25519") == "ed25519" and k.get("privateKey")
    )
    return signing.SigningKey("ed25519", key["publicKey"], key["privateKey"])


def _partner(partner_id: str, enterprise: str, *, broker: bool) -> dict[str, Any]:
    key = partner_key(partner_id)
    return {
        "id": partner_id,
        "enterpriseId": enterprise,
        "name": f"Bench {enterprise}",
        "active": True,
        "broker": broker,
        "clientDisputeWindowMinutes": 60,
        "topUpWindowMinutes": 30,
        "amountFormat": "fullUnits" if broker else "baseUnits",
        "enforceUniqueNonce": False,
        "tradingAccountId": f"{enterprise}-go-account",
        "currencies": [{"code": c, "bitgoCurrency": b, "decimals": d} for c, b, d in CURRENCIES],
        "signingKeys": [{"scheme": "ed25519", "publicKey": key.public_key}],
        "balances": {b: GENEROUS for _, b, _ in CURRENCIES},
    }


def world(exchange_connections: int, broker_connections: int = 0) -> dict[str, Any]:
    """A world with the exchange's and the broker's N connections, one client each.

    The exchange's first two connections carry the demo ids ALPHA and BETA.
    """
    world: dict[str, Any] = {
        "enterprises": [
            {"id": EXCHANGE_ENTERPRISE, "oesLicense": True},
            {"id": BROKER_ENTERPRISE, "oesLicense": True},
            {"id": "ent-bench-clients"},
        ],
        "users": [
            {"id": "user-exchange-ops", "enterprises": [EXCHANGE_ENTERPRISE]},
            {"id": "user-broker-ops", "enterprises": [BROKER_ENTERPRISE]},
        ],
        "tokens": [
            {
                "token": EXCHANGE_TOKEN,
                "user": "user-exchange-ops",
                "scopes": ["settlement_network_read", "settlement_network_write"],
            },
            {
                "token": BROKER_TOKEN,
                "user": "user-broker-ops",
                "scopes": ["settlement_network_read", "settlement_network_write"],
            },
        ],
        "partners": [
            _partner(EXCHANGE, EXCHANGE_ENTERPRISE, broker=False),
            _partner(BROKER, BROKER_ENTERPRISE, broker=True),
        ],
        "clients": [],
        "connections": [],
    }
    balances = {b: {"available": GENEROUS, "held": "0"} for _, b, _ in CURRENCIES}
    for partner_id, count in ((EXCHANGE, exchange_connections), (BROKER, broker_connections)):
        for i in range(count):
            conn_id = (ALPHA, BETA)[i] if partner_id == EXCHANGE and i < 2 else str(uuid.uuid4())
            client = f"client-{conn_id}"
            world["clients"].append(
                {
                    "id": client,
                    "enterpriseId": "ent-bench-clients",
                    "tradingAccountId": f"acct-{conn_id}",
                }
            )
            world["connections"].append(
                {
                    "id": conn_id,
                    "partnerId": partner_id,
                    "clientId": client,
                    "networkAccountId": str(uuid.uuid4()),
                    "active": True,
                    "partnersConnectionId": f"pc-{conn_id}",
                    "balances": balances,
                }
            )
    return world


def connection_ids(world: dict[str, Any], partner_id: str) -> list[str]:
    return [c["id"] for c in world["connections"] if c["partnerId"] == partner_id]


def exchange_amounts(conn_ids: list[str], currencies: int) -> dict[str, dict[str, str]]:
    """Exchange shape: {connection: {currency: amount}}, signs alternating (pay / receive)."""
    codes = [c for c, _, _ in CURRENCIES[:currencies]]
    out: dict[str, dict[str, str]] = {}
    for i, conn in enumerate(conn_ids):
        out[conn] = {
            code: ("-" if (i + j) % 2 == 0 else "") + str(1 + (i * 7 + j) % 9973)
            for j, code in enumerate(codes)
        }
    return out


def broker_amounts(
    conn_ids: list[str], currencies: int = 5
) -> dict[str, dict[str, dict[str, str]]]:
    """Nested broker shape: each connection pays the next one (a ring), full units."""
    codes = [c for c, _, _ in CURRENCIES[:currencies]]
    n = len(conn_ids)
    return {
        src: {
            conn_ids[(i + 1) % n]: {
                code: f"{1 + (i + j) % 97}.{1 + (i * 3 + j) % 9}" for j, code in enumerate(codes)
            }
        }
        for i, src in enumerate(conn_ids)
    }


def signed_body(
    external_id: str, amounts: dict[str, Any], partner_id: str = EXCHANGE, notes: str = "bench"
) -> bytes:
    fields = {
        "externalId": external_id,
        "notes": notes,
        "settlementAmounts": amounts,
        "nonce": signing.new_nonce(),
        "cutoffAt": CUTOFF,
    }
    return orjson.dumps(signing.sign_body(fields, partner_key(partner_id)))


SMALL_AMOUNTS = {ALPHA: {"BTC": "-1", "ETH": "2"}, BETA: {"BTC": "3", "USDC": "-1"}}


def small_bodies(prefix: str, count: int) -> Iterator[bytes]:
    """The small signed settlement (2 connections x 2 currencies), a unique externalId each."""
    for i in range(count):
        yield signed_body(f"{prefix}-{i}", SMALL_AMOUNTS)


def write_bodies(path: Path, bodies: Iterator[bytes]) -> int:
    """One JSON body per line (orjson never emits a raw newline), for wrk's Lua script."""
    count = 0
    with path.open("wb") as out:
        for body in bodies:
            out.write(body + b"\n")
            count += 1
    return count


def uuid4_batch(count: int) -> list[str]:
    """`count` random version-4 UUID strings from one os.urandom call (~10x uuid.uuid4())."""
    h = os.urandom(16 * count).hex()
    variants = "89ab"
    return [
        f"{h[i : i + 8]}-{h[i + 8 : i + 12]}-4{h[i + 13 : i + 16]}-"
        f"{variants[int(h[i + 16], 16) & 3]}{h[i + 17 : i + 20]}-{h[i + 20 : i + 32]}"
        for i in range(0, 32 * count, 32)
    ]


def transfer_rows(body: dict[str, Any], settlement_id: str, stamp: str) -> list[tuple[Any, ...]]:
    """The rows staging writes into `transfers`, built from a parsed body (for the floor)."""
    rows: list[tuple[Any, ...]] = []
    amounts = body["settlementAmounts"]
    seq = 0
    ids = iter(
        uuid4_batch(
            sum(
                len(v) if isinstance(v, dict) else 1
                for inner in amounts.values()
                for v in inner.values()
            )
        )
    )
    for outer, inner in amounts.items():
        for key, value in inner.items():
            leaves = value if isinstance(value, dict) else {key: value}
            source, dest = (outer, key) if isinstance(value, dict) else (None, outer)
            for code, quantity in leaves.items():
                rows.append(
                    (
                        next(ids),
                        settlement_id,
                        seq,
                        source,
                        dest,
                        f"acct-{source}" if source else "go-account",
                        f"na-{source}" if source else None,
                        f"acct-{dest}",
                        f"na-{dest}",
                        code,
                        quantity,
                        "pending",
                        stamp,
                        stamp,
                    )
                )
                seq += 1
    return rows
