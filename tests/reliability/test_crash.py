"""kill -9 at random moments: the database stays consistent and every request can be replayed."""

from __future__ import annotations

import contextlib
import random
import sqlite3
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from oeskit.clock import parse_instant
from tests.conftest import ALPHA, BETA, start_server, stop_server
from tests.reliability.support import (
    ADMIN_HEADERS,
    PARTNER_HEADERS,
    STAGE_URL,
    connect,
    doctor,
    held_mismatches,
    kill_hard,
    signed_body,
)

pytestmark = pytest.mark.slow

KILLS = 5
STREAMS = 3
# Each round's traffic runs this long before the kill. It was 0.4-1.5 s: a run answered 1,640
# requests 200 (~350 a second), 16 times the floor of 20 a round this test asks, and replayed
# ~1,400 of them at the end. 0.2-0.7 s still kills in the middle of stagings and clock advances
# (a run: 645 answered 200, 573 replayed) in 8.8 s instead of 12.4.
KILL_AFTER_S = (0.2, 0.7)


class Traffic:
    """Stagings and clock advances from a few threads; remembers what was sent and answered."""

    def __init__(
        self,
        base_url: str,
        sent: dict[str, dict[str, Any]],
        committed: dict[str, str],
        round_no: int,
    ) -> None:
        self.base_url = base_url
        self.sent = sent
        self.committed = committed
        self.round_no = round_no
        self.statuses: Counter[int] = Counter()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(n,)) for n in range(STREAMS)]

    def _run(self, stream: int) -> None:
        with httpx.Client(base_url=self.base_url, timeout=30) as client:
            for n in range(10_000):
                if self.stop.is_set():
                    return
                try:
                    if n % 7 == 6:
                        response = client.post(
                            "/sandbox/clock", json={"advanceMinutes": 30}, headers=ADMIN_HEADERS
                        )
                    else:
                        key = f"crash-{self.round_no}-{stream}-{n}"
                        body = signed_body(
                            key,
                            {
                                ALPHA: {"BTC": f"-{n + 1}"},
                                BETA: {"ETH": "3", "USDC": f"-{stream + 1}"},
                            },
                        )
                        with self.lock:
                            self.sent[key] = body
                        response = client.post(STAGE_URL, json=body, headers=PARTNER_HEADERS)
                        if response.status_code == 200:
                            with self.lock:
                                self.committed[key] = response.json()["settlement"]["id"]
                except httpx.TransportError:
                    return  # the server died under us: that request's fate is unknown
                with self.lock:
                    self.statuses[response.status_code] += 1

    def __enter__(self) -> Traffic:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)


def test_random_kills_lose_nothing_and_replays_complete(tmp_path: Path) -> None:
    """5 SIGKILLs during stagings and clock advances: after each restart the doctor finds no
    violation, and replaying every request answers 200 with the id committed before."""
    rng = random.Random(20261120)
    db = tmp_path / "crash.db"
    sent: dict[str, dict[str, Any]] = {}
    committed: dict[str, str] = {}
    statuses: Counter[int] = Counter()
    for round_no in range(KILLS):
        server = start_server(tmp_path, db=db)
        with Traffic(server.base_url, sent, committed, round_no) as traffic:
            time.sleep(rng.uniform(*KILL_AFTER_S))
            kill_hard(server)
        statuses.update(traffic.statuses)
        summary = doctor(db)
        assert summary.violations == (), [str(v) for v in summary.violations]
        assert held_mismatches(db) == []
    assert set(statuses) <= {200, 503}, statuses
    assert statuses[200] > 20 * KILLS

    server = start_server(tmp_path, db=db)
    try:
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            for key, body in sent.items():
                response = client.post(STAGE_URL, json=body, headers=PARTNER_HEADERS)
                assert response.status_code == 200, (key, response.text)
                settlement_id = response.json()["settlement"]["id"]
                assert committed.setdefault(key, settlement_id) == settlement_id, key
            advanced = client.post(
                "/sandbox/clock", json={"advanceMinutes": 120}, headers=ADMIN_HEADERS
            )
            assert advanced.status_code == 200
    finally:
        stop_server(server)
    conn = connect(db)
    rows = conn.execute(
        "SELECT status, COUNT(*) FROM settlements WHERE external_id LIKE 'crash-%' GROUP BY status"
    ).fetchall()
    conn.close()
    assert {tuple(r) for r in rows} == {("completed", len(sent))}
    assert doctor(db).violations == ()


def _write_locked(db: Path) -> bool:
    """True while another connection holds the database's write lock."""
    probe = sqlite3.connect(db, isolation_level=None, timeout=0)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        probe.close()


def test_kill_during_finalization_leaves_settlements_retriable(tmp_path: Path) -> None:
    """SIGKILL while a clock advance runs hundreds of jobs: the advance is all or nothing (the
    clock and its jobs are one transaction), so nothing is half-done and the clock has not
    moved; advancing again finishes every settlement, each job exactly once (attempts == 1)."""
    db = tmp_path / "finalize.db"
    server = start_server(tmp_path, db=db)
    count = 240
    try:
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            for n in range(count):
                body = signed_body(f"fin-{n}", {ALPHA: {"BTC": "-10"}, BETA: {"BTC": "7"}})
                assert client.post(STAGE_URL, json=body, headers=PARTNER_HEADERS).status_code == 200
            before = client.get("/sandbox/clock", headers=ADMIN_HEADERS).json()["now"]

        def advance() -> None:
            with contextlib.suppress(httpx.TransportError):
                httpx.post(
                    server.base_url + "/sandbox/clock",
                    json={"advanceMinutes": 90},
                    headers=ADMIN_HEADERS,
                    timeout=60,
                )

        thread = threading.Thread(target=advance)
        thread.start()
        # The advance holds the write lock from its BEGIN to its COMMIT: seen held twice 10 ms
        # apart (the request-log flush holds it for about a millisecond), the kill lands inside.
        deadline = time.monotonic() + 30
        landed = False
        while time.monotonic() < deadline and thread.is_alive():
            if _write_locked(db):
                time.sleep(0.01)
                if _write_locked(db):
                    landed = True
                    break
            time.sleep(0.002)
        kill_hard(server)
        thread.join(timeout=60)
    finally:
        if server.process.poll() is None:
            stop_server(server)

    assert landed, "the advance finished before the kill could land inside it"
    assert doctor(db).violations == ()
    conn = connect(db)
    by_status = dict(
        conn.execute(
            "SELECT status, COUNT(*) FROM settlements WHERE external_id "
            "LIKE 'fin-%' GROUP BY status"
        ).fetchall()
    )
    done = conn.execute("SELECT COUNT(*) FROM jobs WHERE status = 'done'").fetchone()[0]
    conn.close()
    assert by_status == {"pending": count} and done == 0, (by_status, done)

    server = start_server(tmp_path, db=db)
    try:
        clock = httpx.get(server.base_url + "/sandbox/clock", headers=ADMIN_HEADERS).json()
        # Wall time went on for the seconds the test took; the 90 minutes were not added.
        assert parse_instant(clock["now"]) - parse_instant(before) < timedelta(minutes=30)
        moved = httpx.post(
            server.base_url + "/sandbox/clock",
            json={"advanceMinutes": 90},
            headers=ADMIN_HEADERS,
            timeout=60,
        )
        assert moved.status_code == 200, moved.text
    finally:
        stop_server(server)
    conn = connect(db)
    jobs = conn.execute("SELECT status, attempts, COUNT(*) FROM jobs GROUP BY status, attempts")
    assert [tuple(j) for j in jobs] == [("done", 1, 2 * count)]
    completed = conn.execute(
        "SELECT settlement_id, COUNT(*) FROM outbox WHERE type = "
        "'settlement.completed' GROUP BY settlement_id"
    ).fetchall()
    statuses = conn.execute(
        "SELECT DISTINCT status FROM settlements WHERE external_id LIKE 'fin-%'"
    ).fetchall()
    conn.close()
    assert len(completed) == count and {c[1] for c in completed} == {1}
    assert [tuple(s) for s in statuses] == [("completed",)]
    assert doctor(db).violations == ()
