"""`oeskit.hosted.rules` on its own, over an in-memory Book: no HTTP, no SQLite."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import pytest

from oeskit.hosted import rules
from oeskit.hosted.rules import (
    Account,
    Action,
    Amount,
    ConnectionRequest,
    Kind,
    Refused,
    Reservation,
    ReservationRequest,
    Status,
)

PARTNER = "7f1e3c2a-5b4d-4e6f-8a9b-0c1d2e3f4a5b"


class MemoryBook:
    """rules.Book in dicts."""

    def __init__(self) -> None:
        self.accounts = {1: Account(1, "account-1", "user-1", "tok-1")}
        self.records: dict[str, Reservation] = {}
        self.refs = 0

    def account_by_token(self, token: str) -> Account | None:
        return next((a for a in self.accounts.values() if a.connection_token == token), None)

    def account_by_connection(self, connection_id: str) -> Account | None:
        return next((a for a in self.accounts.values() if a.connection_id == connection_id), None)

    def link(self, account_id: int, connection_id: str, client_id: str) -> None:
        self.accounts[account_id] = replace(
            self.accounts[account_id], connection_id=connection_id, client_id=client_id
        )

    def reservation(self, reservation_id: str) -> Reservation | None:
        return self.records.get(reservation_id)

    def reservations(self, account_id: int, currency: str) -> Iterable[Reservation]:
        return [
            r
            for r in self.records.values()
            if r.account_id == account_id and r.request.amount.currency == currency
        ]

    def add(self, reservation: Reservation) -> None:
        self.records[reservation.request.id] = reservation

    def set_status(self, reservation_id: str, status: Status) -> None:
        self.records[reservation_id] = replace(self.records[reservation_id], status=status)

    def new_partner_ref(self, kind: Kind) -> str:
        self.refs += 1
        return f"{kind.value}-{self.refs}"


@pytest.fixture
def book() -> MemoryBook:
    book = MemoryBook()
    rules.connect(book, PARTNER, ConnectionRequest("client-1", "conn-1", "tok-1", PARTNER))
    return book


def request(kind: Kind, record_id: str, quantity: int, **changes: object) -> ReservationRequest:
    base = ReservationRequest(
        kind, record_id, Amount("BTC", quantity), "client-1", "conn-1", "account-1", "user-1"
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_free_balance_counts_cleared_allocations_and_held_deallocations(book: MemoryBook) -> None:
    """Reserved allocations count for nothing; cleared ones add; reserved and cleared
    deallocations subtract; released ones of either kind count for nothing."""
    for record_id, quantity in (("a1", 100), ("a2", 40), ("a3", 7)):
        rules.reserve(book, request(Kind.ALLOCATION, record_id, quantity))
    rules.settle(book, Kind.ALLOCATION, "a1", Action.CLEAR)
    rules.settle(book, Kind.ALLOCATION, "a3", Action.RELEASE)
    rules.reserve(book, request(Kind.DEALLOCATION, "d1", 30))
    rules.reserve(book, request(Kind.DEALLOCATION, "d2", 20))
    rules.settle(book, Kind.DEALLOCATION, "d2", Action.CLEAR)
    rules.reserve(book, request(Kind.DEALLOCATION, "d3", 5))
    rules.settle(book, Kind.DEALLOCATION, "d3", Action.RELEASE)
    records = list(book.reservations(1, "BTC"))
    assert rules.free_balance(records) == 100 - 30 - 20
    assert rules.held_balance(records) == 30


def test_differences_name_the_contract_fields(book: MemoryBook) -> None:
    """A retry with another amount and client names both, in contract spelling."""
    stored = request(Kind.ALLOCATION, "a1", 10)
    changed = replace(stored, amount=Amount("BTC", 11), client_id="other")
    assert rules.differences(stored, changed) == ["amount.quantity", "clientId"]


@pytest.mark.parametrize(
    ("call", "rule"),
    [
        (lambda b: rules.settle(b, Kind.ALLOCATION, "nope", Action.CLEAR), rules.PUT_UNKNOWN),
        (
            lambda b: rules.connect(b, PARTNER, ConnectionRequest("c", "k", "tok-x", PARTNER)),
            rules.CON_UNKNOWN_TOKEN,
        ),
        (
            lambda b: rules.connect(b, PARTNER, ConnectionRequest("c", "k2", "tok-1", PARTNER)),
            rules.CON_ACCOUNT_TAKEN,
        ),
        (
            lambda b: rules.connect(b, "someone-else", ConnectionRequest("c", "k", "t", PARTNER)),
            rules.REQ_FOREIGN_PARTNER,
        ),
        (
            lambda b: rules.reserve(b, request(Kind.ALLOCATION, "a", 1, connection_id="x")),
            rules.CON_UNKNOWN,
        ),
    ],
    ids=["unknown-id", "unknown-token", "account-taken", "foreign-partner", "unknown-connection"],
)
def test_refusals_name_their_rule(book: MemoryBook, call: object, rule: str) -> None:
    """Each refusal is a Refused carrying its catalogue rule id."""
    with pytest.raises(Refused) as refused:
        call(book)  # type: ignore[operator]
    assert refused.value.rule == rule
