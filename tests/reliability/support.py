"""Helpers of the reliability tests: signed bodies for live servers, worker pids, db checks."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import yaml
from bench.servers import descendants

from oeskit import signing
from oeskit.doctor import Summary, examine
from tests.conftest import ADMIN, ALPHA, BETA, DEMO, EXCHANGE, STAGE, LiveServer, partner_key

WORLD: dict[str, Any] = yaml.safe_load(DEMO.read_text())
EXCHANGE_KEY = partner_key(WORLD, EXCHANGE)
STAGE_URL = STAGE.format(enterprise="ent-exchange")
PARTNER_HEADERS = {"Authorization": "Bearer demo-exchange-token"}
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}"}
CUTOFF = "2026-11-01T00:00:00.000Z"


def signed_body(
    external_id: str, amounts: Mapping[str, Any] | None = None, notes: str | None = None
) -> dict[str, Any]:
    """A complete v2 body for Demo Exchange, signed with its ed25519 test key."""
    fields: dict[str, Any] = {
        "externalId": external_id,
        "settlementAmounts": dict(amounts)
        if amounts is not None
        else {ALPHA: {"BTC": "-1000", "ETH": "2000"}, BETA: {"USDC": "-300"}},
        "nonce": signing.new_nonce(),
        "cutoffAt": CUTOFF,
    }
    if notes is not None:
        fields["notes"] = notes
    return signing.sign_body(fields, EXCHANGE_KEY)


def kill_hard(server: LiveServer) -> None:
    """SIGKILL the server and its workers: no shutdown hook, no rollback, no flush."""
    for pid in descendants(server.process.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=10)


def server_log(server: LiveServer) -> str:
    return server.log_path.read_text(errors="replace")


def connect(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db, isolation_level=None, timeout=10)
    conn.row_factory = sqlite3.Row
    return conn


def doctor(db: Path) -> Summary:
    conn = connect(db)
    try:
        return examine(conn)
    finally:
        conn.close()


def held_mismatches(db: Path) -> list[str]:
    """balances.held against the holds of open settlements, computed here independently."""
    conn = connect(db)
    try:
        held = {
            (r[0], r[1]): int(r[2])
            for r in conn.execute("SELECT connection_id, currency, held FROM balances")
        }
        holds: dict[tuple[str, str], int] = {}
        for r in conn.execute(
            "SELECT h.connection_id, h.currency, h.amount FROM holds h JOIN "
            "settlements s ON s.id = h.settlement_id "
            "WHERE s.status IN ('pending', 'failed')"
        ):
            holds[(r[0], r[1])] = holds.get((r[0], r[1]), 0) + int(r[2])
        owed: dict[tuple[str, str], int] = {}
        flows: dict[tuple[str, str, str], int] = {}
        for r in conn.execute(
            "SELECT t.settlement_id, t.source_connection_id, "
            "t.destination_connection_id, t.currency, t.quantity "
            "FROM transfers t "
            "JOIN settlements s ON s.id = t.settlement_id WHERE s.status IN "
            "('pending', 'failed') AND t.status IN ('pending', 'failed')"
        ):
            key = (r[0], r[2], r[3])
            flows[key] = flows.get(key, 0) + int(r[4])
            if r[1] is not None:
                key = (r[0], r[1], r[3])
                flows[key] = flows.get(key, 0) - int(r[4])
        for (_, connection, currency), flow in flows.items():
            if flow < 0:
                owed[(connection, currency)] = owed.get((connection, currency), 0) - flow
    finally:
        conn.close()
    problems = []
    for key in sorted(set(held) | set(holds) | set(owed)):
        values = (held.get(key, 0), holds.get(key, 0), owed.get(key, 0))
        if len(set(values)) != 1:
            problems.append(f"{key}: held {values[0]}, holds {values[1]}, liabilities {values[2]}")
    return problems


def table_counts(db: Path) -> dict[str, int]:
    conn = connect(db)
    try:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        return {n: conn.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0] for n in names}
    finally:
        conn.close()


def wait_jobs_done(server: LiveServer, timeout: float = 30) -> list[dict[str, Any]]:
    """Poll the control plane until no job is queued; answer the jobs."""
    deadline = time.monotonic() + timeout
    while True:
        jobs = httpx.get(
            server.base_url + "/sandbox/jobs", headers=ADMIN_HEADERS, timeout=30
        ).json()["jobs"]
        if all(j["status"] == "done" for j in jobs) or time.monotonic() > deadline:
            return list(jobs)
        httpx.post(server.base_url + "/sandbox/jobs/run", headers=ADMIN_HEADERS, timeout=30)
        time.sleep(0.05)
