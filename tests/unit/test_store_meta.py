"""begin_request re-reads the meta rows (clock, generation, faults) only when they may have
changed: another connection committed (PRAGMA data_version moved), or this one wrote them."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from oeskit.clock import ClockState
from oeskit.store.sqlite import SqliteStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(str(tmp_path / "meta.db"))
    yield s
    s.close()


def frozen_at(store: SqliteStore) -> datetime | None:
    store.begin_request()
    try:
        return store.clock_state().anchor_virtual
    finally:
        store.end_request()


def test_another_connections_clock_change_is_seen_by_the_next_request(store: SqliteStore) -> None:
    first = datetime(2026, 1, 1, tzinfo=UTC)
    store.set_clock_state(ClockState(mode="frozen", anchor_virtual=first, anchor_real=first))
    assert frozen_at(store) == first
    assert frozen_at(store) == first  # served from the snapshot: nothing changed

    other = SqliteStore(store.path)  # another worker
    later = datetime(2027, 6, 1, tzinfo=UTC)
    with other.immediate():
        other.set_clock_state(ClockState(mode="frozen", anchor_virtual=later, anchor_real=later))
    other.close()
    assert frozen_at(store) == later


def test_a_raw_write_by_another_connection_moves_the_generation(store: SqliteStore) -> None:
    store.begin_request()
    before = store._generation
    store.end_request()
    with sqlite3.connect(store.path) as raw:
        raw.execute("INSERT OR REPLACE INTO meta VALUES ('generation', 'moved-elsewhere')")
    store.begin_request()
    assert store._generation == "moved-elsewhere" != before


def test_this_connections_own_meta_writes_are_seen_at_once(store: SqliteStore) -> None:
    assert frozen_at(store) is None  # no clock row yet: wall time
    moment = datetime(2030, 3, 3, tzinfo=UTC)
    with store.immediate():
        store.set_clock_state(ClockState(mode="frozen", anchor_virtual=moment, anchor_real=moment))
    assert frozen_at(store) == moment
    store.add_fault("latency", milliseconds=5)
    store.begin_request()
    assert store.take_fault("latency") is not None  # armed: the snapshot was refreshed
