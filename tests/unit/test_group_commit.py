"""store/group.py over a real SQLite file: units of one tick share a transaction, a failing
unit is undone alone, a failed COMMIT fails every unit and keeps nothing, a lock held by another
connection is waited for without blocking the loop, and past the busy timeout is StoreBusy."""

from __future__ import annotations

import asyncio
import gc
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from oeskit.errors import StoreBusy
from oeskit.store.connection import SqliteBase
from oeskit.store.group import GroupCommit

pytestmark = pytest.mark.anyio


@pytest.fixture
def base(tmp_path: Path) -> Iterator[SqliteBase]:
    store = SqliteBase(str(tmp_path / "group.db"))
    yield store
    store.close()


def put(base: SqliteBase, key: str) -> None:
    """A unit: one row in meta, written inside the unit's own `immediate()` like staging."""
    with base.immediate():
        base.conn.execute("INSERT INTO meta VALUES (?, 'v')", (key,))


def keys(path: str) -> list[str]:
    """What another connection sees: only committed rows."""
    with sqlite3.connect(path) as other:
        return sorted(r[0] for r in other.execute("SELECT key FROM meta WHERE key LIKE 'k%'"))


async def test_units_of_one_tick_share_one_commit(base: SqliteBase) -> None:
    group = GroupCommit(base, busy_timeout_s=1)

    def unit(i: int) -> int:
        put(base, f"k{i:02}")
        return i * 10

    results = await asyncio.gather(*(group.run(lambda i=i: unit(i)) for i in range(12)))
    assert results == [i * 10 for i in range(12)]
    assert (group.groups, group.units) == (1, 12)
    assert keys(base.path) == [f"k{i:02}" for i in range(12)]
    assert not base.conn.in_transaction  # never left open between callbacks


async def test_a_later_unit_sees_the_earlier_ones(base: SqliteBase) -> None:
    group = GroupCommit(base, busy_timeout_s=1)

    def first() -> None:
        put(base, "k-first")

    def second() -> int:
        return int(
            base.conn.execute("SELECT count(*) FROM meta WHERE key = 'k-first'").fetchone()[0]
        )

    _, seen = await asyncio.gather(group.run(first), group.run(second))
    assert seen == 1
    assert group.groups == 1


async def test_a_failing_unit_is_undone_alone(base: SqliteBase) -> None:
    group = GroupCommit(base, busy_timeout_s=1)

    def bad() -> None:
        put(base, "k-bad")  # written, then the unit fails: must not survive
        raise ValueError("rejected")

    outcomes = await asyncio.gather(
        group.run(lambda: put(base, "k1")),
        group.run(bad),
        group.run(lambda: put(base, "k3")),
        return_exceptions=True,
    )
    assert outcomes[0] is None and outcomes[2] is None
    assert isinstance(outcomes[1], ValueError) and str(outcomes[1]) == "rejected"
    assert keys(base.path) == ["k1", "k3"]
    assert group.groups == 1


async def test_a_failed_commit_fails_every_unit_and_keeps_nothing(base: SqliteBase) -> None:
    # A deferred foreign key is checked only at COMMIT: the one real way to make it fail.
    base.conn.executescript(
        "CREATE TABLE parent (id TEXT PRIMARY KEY);"
        "CREATE TABLE child (pid TEXT REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);"
    )
    base.conn.execute("PRAGMA foreign_keys = ON")
    group = GroupCommit(base, busy_timeout_s=1)

    def orphan() -> str:
        with base.immediate():
            base.conn.execute("INSERT INTO child VALUES ('nobody')")
        return "looked fine"

    outcomes = await asyncio.gather(
        group.run(lambda: put(base, "k1")), group.run(orphan), return_exceptions=True
    )
    assert all(isinstance(o, sqlite3.IntegrityError) for o in outcomes), outcomes
    assert keys(base.path) == []
    assert base.conn.execute("SELECT count(*) FROM child").fetchone()[0] == 0
    assert not base.conn.in_transaction
    # The group is usable again afterwards.
    await group.run(lambda: put(base, "k2"))
    assert keys(base.path) == ["k2"]


async def test_waits_for_another_writer_without_blocking_the_loop(base: SqliteBase) -> None:
    other = sqlite3.connect(base.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    group = GroupCommit(base, busy_timeout_s=5)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    asyncio.get_running_loop().call_later(0.15, lambda: other.execute("COMMIT"))
    beat = asyncio.create_task(ticker())
    await group.run(lambda: put(base, "k-after-wait"))
    beat.cancel()
    other.close()
    assert keys(base.path) == ["k-after-wait"]
    assert ticks >= 10  # the loop kept running while the group waited for the lock


async def test_past_the_busy_timeout_the_unit_gets_store_busy(base: SqliteBase) -> None:
    other = sqlite3.connect(base.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    group = GroupCommit(base, busy_timeout_s=0.05)
    try:
        with pytest.raises(StoreBusy):
            await group.run(lambda: put(base, "k-never"))
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert keys(base.path) == []


async def test_nested_immediate_is_a_savepoint(base: SqliteBase) -> None:
    """Outside the group too: an inner block that fails is undone, the outer one commits."""
    with base.immediate():
        base.conn.execute("INSERT INTO meta VALUES ('k-outer', 'v')")
        with pytest.raises(ValueError), base.immediate():
            base.conn.execute("INSERT INTO meta VALUES ('k-inner', 'v')")
            raise ValueError("inner fails")
    assert keys(base.path) == ["k-outer"]


async def test_no_cyclic_gc_inside_a_group_and_it_resumes_after(base: SqliteBase) -> None:
    """Big stagings allocate ~10^6 acyclic objects; full collections during them cost ~40 %
    of their time. Collection is paused for the group only, also when the group fails."""
    group = GroupCommit(base, busy_timeout_s=1)
    assert gc.isenabled()

    def unit() -> bool:
        put(base, "k-gc")
        return gc.isenabled()

    assert await group.run(unit) is False
    assert gc.isenabled()

    def failing() -> None:
        raise ValueError("rejected")

    with pytest.raises(ValueError):
        await group.run(failing)
    assert gc.isenabled()
