"""Storage faults, in process on real SQLite files: a database deleted or replaced under the
server (503 OES-SRV-004, logged, no write acknowledged), a full disk or a read-only database
(503 OES-SRV-003 with Retry-After), and a clock move that is all or nothing.

A full disk is SQLite's own SQLITE_FULL, made real by `PRAGMA max_page_count` on the server's
connection; read-only is SQLITE_READONLY through `PRAGMA query_only`. The same faults on a real
filesystem, against `oeskit serve`, are in test_storage_live.py."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import ALPHA, Sandbox

# Faults of the SQLite file itself (deleted, replaced, full, read-only).
STORES = ("sqlite",)

pytestmark = pytest.mark.anyio


def _remove_files(db: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        os.unlink(db + suffix)


def _count(sandbox: Sandbox, external_id: str) -> int:
    row = sandbox.store.conn.execute(
        "SELECT COUNT(*) FROM settlements WHERE external_id = ?", (external_id,)
    ).fetchone()
    return int(row[0])


async def test_a_deleted_database_refuses_writes_with_503_and_logs_it(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """After `rm` of the database files, a staging is 503 OES-SRV-004 (it answered 200 and was
    lost at the restart), and so is a control-plane write; the server logs it once."""
    assert (await sandbox.stage(sandbox.sign(sandbox.fields()))).status_code == 200
    _remove_files(sandbox.store.path)
    for _ in range(2):
        refused = await sandbox.stage(sandbox.sign(sandbox.fields(externalId="after-rm")))
        assert refused.status_code == 503, refused.text
        body = refused.json()
        assert body["rule"] == "OES-SRV-004"
        assert "deleted or replaced" in body["error"] and "restart" in body["error"]
    clock = await sandbox.admin("POST", "/clock", json={"advanceMinutes": 5})
    assert (clock.status_code, clock.json()["rule"]) == (503, "OES-SRV-004")
    logged = [r for r in caplog.records if "deleted or replaced" in r.getMessage()]
    assert len(logged) == 1 and logged[0].levelname == "ERROR"
    assert _count(sandbox, "after-rm") == 0


async def test_a_replaced_database_refuses_writes_with_503(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """A file moved over the database (another inode at the path) is noticed the same way."""
    other = tmp_path / "other.db"
    sqlite3.connect(other).close()
    os.replace(other, sandbox.store.path)
    refused = await sandbox.stage(sandbox.sign(sandbox.fields()))
    assert (refused.status_code, refused.json()["rule"]) == (503, "OES-SRV-004"), refused.text


async def test_a_full_disk_is_503_with_retry_after_and_nothing_staged(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """With the database at its page limit (SQLITE_FULL, as on a full disk), the staging that
    needs a new page is 503 OES-SRV-003 saying storage is full, with Retry-After; nothing of
    it is kept, the ones before it are, and the same request stages once there is room."""
    conn = sandbox.store.conn
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    refused = None
    for n in range(1000):
        body = sandbox.sign(sandbox.fields({ALPHA: {"BTC": "-1"}}, externalId=f"fill-{n}"))
        answer = await sandbox.stage(body)
        if answer.status_code != 200:
            refused = answer
            break
    assert refused is not None, "the page limit was never reached"
    assert refused.status_code == 503, refused.text
    assert refused.json()["rule"] == "OES-SRV-003"
    assert "storage is full" in refused.json()["error"]
    assert int(refused.headers["Retry-After"]) >= 1
    assert _count(sandbox, f"fill-{n}") == 0 and _count(sandbox, "fill-0") == (n > 0)
    assert any("is full" in r.getMessage() for r in caplog.records)
    conn.execute(f"PRAGMA max_page_count = {pages * 100}")
    retried = await sandbox.stage(body)
    assert retried.status_code == 200, retried.text


async def test_a_read_only_database_is_503_too(sandbox: Sandbox) -> None:
    """A database that cannot be written (SQLITE_READONLY) answers like a full disk, saying so,
    and reads still answer."""
    sandbox.store.conn.execute("PRAGMA query_only = ON")
    refused = await sandbox.stage(sandbox.sign(sandbox.fields()))
    assert refused.status_code == 503, refused.text
    assert refused.json()["rule"] == "OES-SRV-003"
    assert "read-only" in refused.json()["error"]
    assert "Retry-After" in refused.headers
    world = await sandbox.admin("POST", "/reset")
    assert (world.status_code, world.json()["rule"]) == (503, "OES-SRV-003")
    clock = await sandbox.admin("GET", "/clock")
    assert clock.status_code == 200


async def test_a_clock_move_whose_jobs_fail_moves_nothing(sandbox: Sandbox) -> None:
    """POST /sandbox/clock whose due jobs fail answers the failure and leaves the clock where
    it was (it used to move before the jobs ran, so a retry moved it twice); once the jobs can
    run, the same request moves it once and runs them."""
    staged = await sandbox.stage(sandbox.sign(sandbox.fields()))
    settlement_id = staged.json()["settlement"]["id"]
    before = (await sandbox.admin("GET", "/clock")).json()["now"]
    conn = sandbox.store.conn
    quantities = conn.execute(
        "SELECT id, quantity FROM transfers WHERE settlement_id = ?", (settlement_id,)
    ).fetchall()
    conn.execute(
        "UPDATE transfers SET quantity = 'not a number' WHERE settlement_id = ?", (settlement_id,)
    )
    for _ in range(2):
        failed = await sandbox.admin("POST", "/clock", json={"advanceMinutes": 24 * 60})
        assert failed.status_code == 500, failed.text
        assert failed.json()["rule"] == "OES-SRV-001"
        assert (await sandbox.admin("GET", "/clock")).json()["now"] == before
        jobs = (await sandbox.admin("GET", "/jobs")).json()["jobs"]
        assert jobs and all(job["status"] != "done" for job in jobs)
    conn.executemany(
        "UPDATE transfers SET quantity = ? WHERE id = ?", [(q, i) for i, q in quantities]
    )
    moved = await sandbox.admin("POST", "/clock", json={"advanceMinutes": 24 * 60})
    assert moved.status_code == 200, moved.text
    assert moved.json()["jobsRun"] >= 1
    assert moved.json()["clock"]["now"][:10] > before[:10]
