"""Racing duplicates against the reference partner: real concurrency (worker threads, one
SQLite connection each, BEGIN IMMEDIATE), one record, one effect (PH-IDEM-004)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from contextlib import closing
from typing import Any

import httpx
import pytest

from oeskit.hosted.rules import Amount, Kind, Reservation, ReservationRequest, Status
from tests.hosted.conftest import Bitgo

pytestmark = pytest.mark.anyio
RACERS = 8


async def race(call: Callable[[], Awaitable[httpx.Response]]) -> list[httpx.Response]:
    return list(await asyncio.gather(*(call() for _ in range(RACERS))))


def rows(bitgo: Bitgo, sql: str, *args: object) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(bitgo.store.path)) as db:
        return db.execute(sql, args).fetchall()


async def test_racing_identical_allocations_make_one_and_credit_once(bitgo: Bitgo) -> None:
    """8 identical allocations at once: all 200 with one partnersAllocationId, one row; after
    clear the amount is credited once (a deallocation of twice the amount is rejected)."""
    connection = await bitgo.connect()
    body = bitgo.reservation("allocation", connection, 1000)
    answers = await race(lambda: bitgo.post("allocation", body))
    assert {a.status_code for a in answers} == {200}
    assert len({a.json()["partnersAllocationId"] for a in answers}) == 1
    assert rows(bitgo, "SELECT count(*) FROM reservations WHERE id = ?", body["allocationId"]) == [
        (1,)
    ]
    await bitgo.put("allocation", body["allocationId"], "clear")
    twice = bitgo.reservation("deallocation", connection, 2000)
    assert (await bitgo.post("deallocation", twice)).json()["status"] == "rejected"
    once = bitgo.reservation("deallocation", connection, 1000)
    assert (await bitgo.post("deallocation", once)).json()["status"] == "reserved"


async def test_racing_identical_connections_link_one_account(bitgo: Bitgo) -> None:
    """8 identical connection requests at once: all 200 with the same ids."""
    request = bitgo.connection_request()
    answers = await race(lambda: bitgo.call("POST", "/bitgo/v1/connections", request))
    assert {a.status_code for a in answers} == {200}
    assert len({a.text for a in answers}) == 1


async def test_racing_deallocations_cannot_overdraw(bitgo: Bitgo) -> None:
    """8 different deallocations of the whole free balance at once: exactly one is reserved,
    the others rejected."""
    connection = await bitgo.funded(500)
    bodies = [bitgo.reservation("deallocation", connection, 500) for _ in range(RACERS)]
    answers = await asyncio.gather(*(bitgo.post("deallocation", b) for b in bodies))
    statuses = sorted(a.json()["status"] for a in answers)
    assert statuses == ["rejected"] * (RACERS - 1) + ["reserved"]


async def test_racing_clears_credit_once(bitgo: Bitgo) -> None:
    """8 clears of one allocation at once: all 200 cleared, credited once."""
    connection = await bitgo.connect()
    body = bitgo.reservation("allocation", connection, 300)
    await bitgo.post("allocation", body)
    answers = await race(lambda: bitgo.put("allocation", body["allocationId"], "clear"))
    assert {(a.status_code, a.json()["status"]) for a in answers} == {(200, "cleared")}
    over = bitgo.reservation("deallocation", connection, 301)
    assert (await bitgo.post("deallocation", over)).json()["status"] == "rejected"


async def test_the_database_refuses_one_id_for_both_kinds(bitgo: Bitgo) -> None:
    """The shared unique index is in the schema itself: a second row with an allocation's id
    as a deallocation is refused by SQLite, whatever the code above it checks."""
    account = bitgo.accounts[0]

    def record(kind: Kind, ref: str) -> Reservation:
        request = ReservationRequest(
            kind, "same-id", Amount("BTC", 1), "c", "k", account.partners_connection_id, "u"
        )
        return Reservation(request, account.id, ref, Status.RESERVED)

    with bitgo.store.transaction() as book:
        book.add(record(Kind.ALLOCATION, "ref-1"))
    with pytest.raises(sqlite3.IntegrityError), bitgo.store.transaction() as book:
        book.add(record(Kind.DEALLOCATION, "ref-2"))
