"""`oeskit doctor`: a healthy sandbox passes, and each invariant catches its own corruption."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from oeskit.cli import main
from oeskit.doctor import INVARIANTS, check, examine
from oeskit.store.postgres import PostgresStore
from tests.conftest import ALPHA, BETA, Sandbox

pytestmark = pytest.mark.anyio

GHOST = "00000000-0000-4000-8000-00000000dead"


@pytest.fixture
def sandbox(shared_sandbox: Sandbox) -> Sandbox:
    """The module's shared sandbox, reset to the demo world (tests/reliability/conftest.py):
    the corruptions below change rows only, and the reset empties every state table."""
    return shared_sandbox


async def _populate(sandbox: Sandbox) -> dict[str, str]:
    """Two completed settlements (one carrying the demo's closed dispute), two pending."""
    ids = {}
    for name in ("done1", "done2"):
        response = await sandbox.stage(
            sandbox.sign(
                sandbox.fields(
                    {ALPHA: {"BTC": "-1000", "ETH": "2000"}, BETA: {"USDC": "-5"}}, externalId=name
                )
            )
        )
        assert response.status_code == 200, response.text
        ids[name] = response.json()["settlement"]["id"]
    advanced = await sandbox.admin("POST", "/clock", json={"advanceMinutes": 90})
    assert advanced.json()["jobsRun"] == 4, advanced.text
    for name in ("open1", "open2"):
        response = await sandbox.stage(
            sandbox.sign(
                sandbox.fields(
                    {ALPHA: {"BTC": "-700"}, BETA: {"ETH": "-9", "BTC": "4"}}, externalId=name
                )
            )
        )
        assert response.status_code == 200, response.text
        ids[name] = response.json()["settlement"]["id"]
    return ids


def _names(conn: sqlite3.Connection) -> set[str]:
    return {v.invariant for v in check(conn)}


async def test_healthy_sandbox_has_no_violation(sandbox: Sandbox) -> None:
    """Staging, finalizing and a settling dispute leave every invariant true."""
    await _populate(sandbox)
    summary = examine(sandbox.store.conn)
    assert summary.violations == ()
    assert (summary.settlements, summary.transfers) == (5, 3 + 2 * 3 + 1 + 2 * 3)


Corruption = Callable[[sqlite3.Connection, dict[str, str]], None]
CORRUPTIONS: dict[str, Corruption] = {
    "settlement_has_transfers_or_none_expected": lambda c, ids: c.execute(
        "DELETE FROM transfers WHERE settlement_id = ? AND currency = 'ofcbtc' "
        "AND destination_connection_id = ?",
        (ids["open1"], ALPHA),
    ),
    "transfer_has_settlement": lambda c, ids: c.execute(
        "UPDATE transfers SET settlement_id = ? WHERE settlement_id = ?", (GHOST, ids["done2"])
    ),
    "holds_match_balances": lambda c, ids: c.execute(
        "UPDATE balances SET held = '1' WHERE connection_id = ? AND currency = 'ofcusdc'", (ALPHA,)
    ),
    "holds_only_for_pending": lambda c, ids: c.execute(
        "INSERT INTO holds VALUES (?, ?, 'ofcxrp', '0')", (ids["done1"], ALPHA)
    ),
    "holds_match_liabilities": lambda c, ids: c.execute(
        "UPDATE transfers SET quantity = '-701' WHERE settlement_id = ? AND currency = 'ofcbtc' "
        "AND destination_connection_id = ?",
        (ids["open1"], ALPHA),
    ),
    "pending_has_jobs": lambda c, ids: c.execute(
        "DELETE FROM jobs WHERE settlement_id = ? AND kind = 'execute'", (ids["open2"],)
    ),
    "jobs_have_settlement": lambda c, ids: c.execute(
        "INSERT INTO jobs (id, kind, settlement_id, due_at, status) "
        "VALUES ('j-ghost', 'execute', ?, '2026-01-01T00:00:00.000Z', 'queued')",
        (GHOST,),
    ),
    "completed_has_finalized_at": lambda c, ids: c.execute(
        "UPDATE settlements SET finalized_at = NULL WHERE id = ?", (ids["done1"],)
    ),
    "failed_has_reason": lambda c, ids: c.execute(
        "UPDATE settlements SET status = 'failed', reason = NULL, finalized_at = NULL WHERE id = ?",
        (ids["done2"],),
    ),
    "no_negative_available": lambda c, ids: c.execute(
        "UPDATE partner_balances SET available = '-1' WHERE currency = 'ofcxrp'"
    ),
    "disputes_assigned_to_existing_settlement": lambda c, ids: c.execute(
        "UPDATE disputes SET settled_in_settlement_id = ?", (GHOST,)
    ),
}


def test_every_invariant_has_a_corruption() -> None:
    """The table below covers every invariant the doctor checks."""
    assert set(CORRUPTIONS) == set(INVARIANTS)


@pytest.mark.parametrize("invariant", sorted(CORRUPTIONS))
async def test_corruption_is_detected(sandbox: Sandbox, invariant: str) -> None:
    """Corrupting the database by hand trips the invariant named for that corruption."""
    ids = await _populate(sandbox)
    assert _names(sandbox.store.conn) == set()
    CORRUPTIONS[invariant](sandbox.store.conn, ids)
    assert invariant in _names(sandbox.store.conn)


async def test_cli_reports_ok_then_violations(sandbox: Sandbox) -> None:
    """`oeskit doctor --db` prints a count and exits 0, then prints violations and exits 1."""
    await _populate(sandbox)
    db = sandbox.store.url if isinstance(sandbox.store, PostgresStore) else sandbox.store.path
    ok = CliRunner().invoke(main, ["doctor", "--db", db])
    assert ok.exit_code == 0, ok.output
    assert ok.output.strip() == "ok: 5 settlements, 16 transfers checked"
    sandbox.store.conn.execute(
        "UPDATE balances SET available = '-5' WHERE connection_id = ? AND currency = 'ofcbtc'",
        (BETA,),
    )
    bad = CliRunner().invoke(main, ["doctor", "--db", db])
    assert bad.exit_code == 1
    assert f"no_negative_available: {BETA} ofcbtc available = -5" in bad.output


def test_cli_refuses_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    """A file that is not SQLite is reported, not a traceback."""
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    result = CliRunner().invoke(main, ["doctor", "--db", str(junk)])
    assert result.exit_code == 1
    assert "not a readable oeskit database" in result.output
