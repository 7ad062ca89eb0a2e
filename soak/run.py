"""Soak: mixed partner and control-plane load on a freshly started `oeskit serve --workers 2`.

Runs as `python -m soak` or `python soak/run.py` (it needs only the installed oeskit package).
Bounded in time and in requests, loopback only. Breaches (any 5xx, RSS growth above the limit,
a transport error, a doctor violation) make the exit status non-zero.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from oeskit import fixtures, signing
from oeskit.testing.server import start_serve

EXCHANGE = "5a1f7f0e-0c1d-4f7e-9a0b-7d0d6b1e0001"
CONNECTIONS = ("09684b38-49ed-4cf6-a28e-c3a459494c69", "136c1c69-8654-484f-8c5f-591b334a084f")
V1 = "/api/network/v1/enterprises/ent-exchange/partners"
STAGE = "/api/network/v2/enterprises/ent-exchange/partners/settlements"
TOKEN = {"Authorization": "Bearer demo-exchange-token"}


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    transport_errors: int = 0
    sent: int = 0
    staged: list[dict[str, Any]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)


class Load:
    def __init__(
        self,
        client: httpx.AsyncClient,
        key: signing.SigningKey,
        admin: str,
        tally: Tally,
        rng: random.Random,
    ) -> None:
        self.client = client
        self.key = key
        self.admin = {"Authorization": f"Bearer {admin}"}
        self.tally = tally
        self.rng = rng

    async def one(self) -> None:
        kind = self.rng.choices(
            ("stage", "replay", "get", "list", "disputes", "balances", "dispute", "clock"),
            weights=(40, 12, 15, 10, 6, 6, 3, 2),
        )[0]
        if not self.tally.staged and kind != "stage":
            kind = "stage"
        method, path, kwargs = getattr(self, "_" + kind)()
        self.tally.sent += 1
        self.tally.kinds[kind] += 1
        try:
            response = await self.client.request(method, path, **kwargs)
        except httpx.TransportError:
            self.tally.transport_errors += 1
            return
        self.tally.statuses[response.status_code] += 1
        if kind == "stage" and response.status_code == 200:
            self.tally.ids.append(response.json()["settlement"]["id"])

    def _stage(self) -> tuple[str, str, dict[str, Any]]:
        n = self.tally.sent
        fields = {
            "externalId": f"soak-{n}-{secrets.token_hex(4)}",
            "settlementAmounts": {
                CONNECTIONS[0]: {"BTC": f"-{self.rng.randint(1, 999)}"},
                CONNECTIONS[1]: {"ETH": str(self.rng.randint(1, 10**6))},
            },
            "nonce": signing.new_nonce(),
            "cutoffAt": "2026-11-01T00:00:00.000Z",
        }
        body = signing.sign_body(fields, self.key)
        if len(self.tally.staged) < 500:
            self.tally.staged.append(body)
        return "POST", STAGE, {"json": body, "headers": TOKEN}

    def _replay(self) -> tuple[str, str, dict[str, Any]]:
        return "POST", STAGE, {"json": self.rng.choice(self.tally.staged), "headers": TOKEN}

    def _some_id(self) -> str:
        return self.rng.choice(self.tally.ids) if self.tally.ids else "missing"

    def _get(self) -> tuple[str, str, dict[str, Any]]:
        return "GET", f"{V1}/settlements/{self._some_id()}", {"headers": TOKEN}

    def _list(self) -> tuple[str, str, dict[str, Any]]:
        return "GET", f"{V1}/settlements", {"headers": TOKEN, "params": {"pageSize": 50}}

    def _disputes(self) -> tuple[str, str, dict[str, Any]]:
        return "GET", f"{V1}/settlement/disputes", {"headers": TOKEN}

    def _balances(self) -> tuple[str, str, dict[str, Any]]:
        return "GET", f"{V1}/balances", {"headers": TOKEN}

    def _dispute(self) -> tuple[str, str, dict[str, Any]]:
        body = {"settlementId": self._some_id(), "connectionId": CONNECTIONS[1], "reason": "soak"}
        return "POST", "/sandbox/disputes", {"json": body, "headers": self.admin}

    def _clock(self) -> tuple[str, str, dict[str, Any]]:
        return "POST", "/sandbox/clock", {"json": {"advanceMinutes": 10}, "headers": self.admin}


async def _drive(
    base: str,
    admin: str,
    seconds: float,
    connections: int,
    max_requests: int,
    tally: Tally,
    warmup: float,
    on_warm: Any,
) -> None:
    world = yaml.safe_load(fixtures.world_path("demo").read_text())
    partner = next(p for p in world["partners"] if p["id"] == EXCHANGE)
    entry = next(k for k in partner["signingKeys"] if k.get("scheme", "ed25519") == "ed25519")
    key = signing.SigningKey("ed25519", entry["publicKey"], entry["privateKey"])
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    started = time.monotonic()
    deadline = started + seconds
    warm = asyncio.Event()
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def worker(n: int) -> None:
            load = Load(client, key, admin, tally, random.Random(n))  # noqa: S311 - a load mix
            while time.monotonic() < deadline and tally.sent < max_requests:
                await load.one()
                if not warm.is_set() and time.monotonic() - started >= warmup:
                    warm.set()
                    on_warm()

        await asyncio.gather(*(worker(n) for n in range(connections)))


def run(
    seconds: float,
    connections: int,
    workers: int,
    max_requests: int,
    max_rss_growth: float,
    out: Any = sys.stdout,
) -> int:
    admin = secrets.token_urlsafe(18)
    with tempfile.TemporaryDirectory(prefix="oeskit-soak-") as tmp:
        db = Path(tmp) / "soak.db"
        server = start_serve(Path(tmp), db, workers=workers, admin=admin, fresh=True)
        rss: dict[str, int] = {}
        tally = Tally()
        began = time.monotonic()
        try:
            warmup = min(5.0, seconds * 0.15)
            asyncio.run(
                _drive(
                    server.base_url,
                    admin,
                    seconds,
                    connections,
                    max_requests,
                    tally,
                    warmup,
                    lambda: rss.setdefault("start", server.rss_kb()),
                )
            )
            rss.setdefault("start", server.rss_kb())
            rss["end"] = server.rss_kb()
        finally:
            server.stop()
        elapsed = time.monotonic() - began
        doctor = subprocess.run(
            [sys.executable, "-m", "oeskit", "doctor", "--db", str(db)],
            capture_output=True,
            text=True,
            check=False,
        )
    server_errors = sum(n for status, n in tally.statuses.items() if status >= 500)
    growth = rss["end"] / rss["start"] - 1 if rss["start"] else 0.0
    report = {
        "seconds": round(elapsed, 1),
        "connections": connections,
        "workers": workers,
        "requests": tally.sent,
        "rps": round(tally.sent / elapsed, 1),
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "kinds": dict(sorted(tally.kinds.items())),
        "server_errors": server_errors,
        "transport_errors": tally.transport_errors,
        "rss_kib": {"start": rss["start"], "end": rss["end"], "growth": round(growth, 3)},
        "doctor": doctor.stdout.strip().splitlines(),
        "doctor_exit": doctor.returncode,
    }
    breaches = []
    if server_errors:
        breaches.append(f"{server_errors} responses were 5xx")
    if tally.transport_errors:
        breaches.append(f"{tally.transport_errors} transport errors")
    if growth > max_rss_growth:
        breaches.append(f"RSS grew {growth:.1%} (limit {max_rss_growth:.0%})")
    if doctor.returncode != 0:
        breaches.append("oeskit doctor found violations")
    if tally.sent == 0:
        breaches.append("no request was sent")
    report["breaches"] = breaches
    print(json.dumps(report, indent=2), file=out)
    return 1 if breaches else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--max-rss-growth", type=float, default=0.20)
    args = parser.parse_args(argv)
    return run(args.seconds, args.connections, args.workers, args.max_requests, args.max_rss_growth)


if __name__ == "__main__":
    raise SystemExit(main())
