"""The partner world of one client-test run: fresh random ids, a token, a key, two connections
with allocated balances, and the task the client is asked to stage. No I/O."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from oeskit import signing

CURRENCY = "BTC"
BITGO_CURRENCY = "ofcbtc"
ALLOCATED = 100_000  # sat allocated on each connection
SCOPES = ("settlement_network_read", "settlement_network_write")


@dataclass(frozen=True, slots=True)
class RunWorld:
    """Who the client is during one run, and the ids it may settle between."""

    enterprise_id: str
    token: str
    partner_id: str
    connections: tuple[str, str]
    key: signing.SigningKey  # private half absent when the partner brought their own key

    def document(self) -> dict[str, Any]:
        """The world to merge into the sandbox (POST /sandbox/world?mode=merge)."""
        user = f"{self.enterprise_id}-ops"
        clients = [f"{self.enterprise_id}-client-{i}" for i in (1, 2)]
        return {
            "enterprises": [
                {"id": self.enterprise_id, "name": "client-test partner", "oesLicense": True},
                *({"id": f"{c}-ent"} for c in clients),
            ],
            "users": [{"id": user, "enterprises": [self.enterprise_id]}],
            "tokens": [{"token": self.token, "user": user, "scopes": list(SCOPES)}],
            "partners": [
                {
                    "id": self.partner_id,
                    "enterpriseId": self.enterprise_id,
                    "name": "client-test partner",
                    "active": True,
                    "broker": False,
                    "clientDisputeWindowMinutes": 60,
                    "topUpWindowMinutes": 30,
                    "amountFormat": "baseUnits",
                    "tradingAccountId": f"{self.enterprise_id}-go-account",
                    "currencies": [
                        {"code": CURRENCY, "bitgoCurrency": BITGO_CURRENCY, "decimals": 8}
                    ],
                    # Only the public half: the sandbox never needs the private key.
                    "signingKeys": [{"scheme": self.key.scheme, "publicKey": self.key.public_key}],
                    "balances": {BITGO_CURRENCY: str(100 * ALLOCATED)},
                }
            ],
            "clients": [
                {"id": c, "enterpriseId": f"{c}-ent", "tradingAccountId": f"{c}-go-account"}
                for c in clients
            ],
            "connections": [
                {
                    "id": connection,
                    "partnerId": self.partner_id,
                    "clientId": client,
                    "networkAccountId": str(uuid.uuid4()),
                    "active": True,
                    "balances": {BITGO_CURRENCY: {"available": str(ALLOCATED), "held": "0"}},
                }
                for connection, client in zip(self.connections, clients, strict=True)
            ],
        }


def new_run_world(key: signing.SigningKey) -> RunWorld:
    """A world no other run shares: every id and the token are random."""
    return RunWorld(
        enterprise_id=f"ct-{secrets.token_hex(6)}",
        token=f"ct-{secrets.token_hex(24)}",
        partner_id=str(uuid.uuid4()),
        connections=(str(uuid.uuid4()), str(uuid.uuid4())),
        key=key,
    )


def task(world: RunWorld, plan: str, *, exceed: bool = False) -> dict[str, Any]:
    """What the client is asked to stage (`OES_TASK`). With `exceed`, the first connection owes
    more than its allocated balance (a 422)."""
    first, second = world.connections
    owed = 3 * ALLOCATED if exceed else 40_000
    return {
        "settlementAmounts": {first: {CURRENCY: f"-{owed}"}, second: {CURRENCY: "25000"}},
        "cutoffAt": "2026-11-01T00:00:00.000Z",
        "notes": f"oeskit client-test, plan {plan}",
    }
