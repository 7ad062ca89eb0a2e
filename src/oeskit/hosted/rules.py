"""What a partner's hosted endpoints decide, as pure functions over records and a `Book` port.

`connect`, `reserve` and `settle` each run inside one store transaction (the caller opens it),
so a racing duplicate sees the first one's record and is answered as a retry. A refusal is a
`Refused` naming its rule in `partner-hosted.yaml`'s catalogue; the status comes from there.

Balances are never stored: a client's free balance in a currency is derived from its records
(cleared allocations, minus cleared and reserved deallocations), so an allocation is credited
exactly when it is cleared, however often it was sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final, Protocol

# Rule ids of partner-hosted.yaml's `x-oeskit-rules` (statements and statuses live there only).
SIG_MISSING: Final = "PH-SIG-001"
SIG_INVALID: Final = "PH-SIG-002"
SIG_EXPIRED: Final = "PH-SIG-003"
SIG_TOO_LONG: Final = "PH-SIG-004"
SIG_REPLAYED: Final = "PH-SIG-005"
SIG_UNBOUND: Final = "PH-SIG-006"
REQ_MALFORMED: Final = "PH-REQ-001"
REQ_FOREIGN_PARTNER: Final = "PH-REQ-002"
CON_LINKED: Final = "PH-CON-001"
CON_UNKNOWN_TOKEN: Final = "PH-CON-002"  # noqa: S105 - a rule id, not a secret
CON_ACCOUNT_TAKEN: Final = "PH-CON-003"
CON_UNKNOWN: Final = "PH-CON-004"
IDEM_RETRY: Final = "PH-IDEM-001"
IDEM_CHANGED: Final = "PH-IDEM-002"
IDEM_OTHER_KIND: Final = "PH-IDEM-003"
IDEM_RACE: Final = "PH-IDEM-004"
IDEM_SETTLED: Final = "PH-IDEM-005"
ALC_RESERVED: Final = "PH-ALC-001"
ALC_CLEARED: Final = "PH-ALC-002"
ALC_RELEASED: Final = "PH-ALC-003"
DEA_HELD: Final = "PH-DEA-001"
DEA_REJECTED: Final = "PH-DEA-002"
DEA_CLEARED: Final = "PH-DEA-003"
DEA_RELEASED: Final = "PH-DEA-004"
PUT_UNKNOWN: Final = "PH-PUT-001"
PUT_CONFLICT: Final = "PH-PUT-002"
PUT_REPEATED: Final = "PH-PUT-003"
PUT_BODY_IGNORED: Final = "PH-PUT-004"
RSP_SHAPE: Final = "PH-RSP-001"


class Kind(StrEnum):
    ALLOCATION = "allocation"
    DEALLOCATION = "deallocation"


class Status(StrEnum):
    RESERVED = "reserved"
    REJECTED = "rejected"
    CLEARED = "cleared"
    RELEASED = "released"


class Action(StrEnum):
    CLEAR = "clear"
    RELEASE = "release"

    @property
    def target(self) -> Status:
        return Status.CLEARED if self is Action.CLEAR else Status.RELEASED


class Refused(Exception):
    """The request is refused under `rule`; `message` says why, for a person."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


@dataclass(frozen=True, slots=True)
class Amount:
    currency: str
    quantity: int  # base units


@dataclass(frozen=True, slots=True)
class Account:
    """An account on the partner, with the token a client connects it by."""

    id: int
    partners_connection_id: str
    partners_client_id: str
    connection_token: str
    connection_id: str | None = None
    client_id: str | None = None


@dataclass(frozen=True, slots=True)
class ConnectionRequest:
    client_id: str
    connection_id: str
    connection_token: str
    partner_id: str


@dataclass(frozen=True, slots=True)
class Connection:
    client_id: str
    connection_id: str
    partners_client_id: str
    partners_connection_id: str


@dataclass(frozen=True, slots=True)
class ReservationRequest:
    """An allocation or deallocation as BitGo sends it."""

    kind: Kind
    id: str
    amount: Amount
    client_id: str
    connection_id: str
    partners_connection_id: str
    partners_client_id: str


@dataclass(frozen=True, slots=True)
class Reservation:
    """An allocation or deallocation as the partner holds it."""

    request: ReservationRequest
    account_id: int
    partner_ref: str
    status: Status
    rejection_reason: str | None = None


class Book(Protocol):
    """The partner's records, inside one transaction (implemented by `hosted.store`)."""

    def account_by_token(self, token: str) -> Account | None: ...
    def account_by_connection(self, connection_id: str) -> Account | None: ...
    def link(self, account_id: int, connection_id: str, client_id: str) -> None: ...
    def reservation(self, reservation_id: str) -> Reservation | None:
        """The record with this id, of either kind (the ids share one unique index)."""
        ...

    def reservations(self, account_id: int, currency: str) -> Iterable[Reservation]: ...
    def add(self, reservation: Reservation) -> None: ...
    def set_status(self, reservation_id: str, status: Status) -> None: ...
    def new_partner_ref(self, kind: Kind) -> str: ...


def connect(book: Book, own_partner_id: str, request: ConnectionRequest) -> Connection:
    """Link the account of `connection_token` to the connection, or answer a retry."""
    if request.partner_id.lower() != own_partner_id.lower():
        raise Refused(REQ_FOREIGN_PARTNER, f"partnerId {request.partner_id} is not this partner's")
    known = book.account_by_connection(request.connection_id)
    if known is not None:
        if (known.client_id, known.connection_token) != (
            request.client_id,
            request.connection_token,
        ):
            raise Refused(
                IDEM_CHANGED,
                f"connection {request.connection_id} exists with another client or token",
            )
        return _connection(known, request.connection_id, request.client_id)
    account = book.account_by_token(request.connection_token)
    if account is None:
        raise Refused(CON_UNKNOWN_TOKEN, "unknown connection token")
    if account.connection_id is not None:
        raise Refused(
            CON_ACCOUNT_TAKEN,
            "the account of this connection token is already connected "
            f"(connection {account.connection_id})",
        )
    book.link(account.id, request.connection_id, request.client_id)
    return _connection(account, request.connection_id, request.client_id)


def _connection(account: Account, connection_id: str, client_id: str) -> Connection:
    return Connection(
        client_id=client_id,
        connection_id=connection_id,
        partners_client_id=account.partners_client_id,
        partners_connection_id=account.partners_connection_id,
    )


def reserve(book: Book, request: ReservationRequest) -> Reservation:
    """A new reserved allocation, a held or rejected deallocation, or the stored one on a retry."""
    stored = book.reservation(request.id)
    if stored is not None:
        return _retry(stored, request)
    account = book.account_by_connection(request.connection_id)
    if account is None:
        raise Refused(CON_UNKNOWN, f"no connection {request.connection_id}")
    _check_names_match(account, request)
    status, reason = Status.RESERVED, None
    if request.kind is Kind.DEALLOCATION:
        free = free_balance(book.reservations(account.id, request.amount.currency))
        if request.amount.quantity > free:
            status = Status.REJECTED
            reason = (
                f"insufficient free balance: {request.amount.quantity} "
                f"{request.amount.currency} requested, {free} free"
            )
    record = Reservation(request, account.id, book.new_partner_ref(request.kind), status, reason)
    book.add(record)
    return record


def _retry(stored: Reservation, request: ReservationRequest) -> Reservation:
    if stored.request.kind is not request.kind:
        raise Refused(
            IDEM_OTHER_KIND, f"id {request.id} is already used by {stored.request.kind.value}"
        )
    changed = differences(stored.request, request)
    if changed:
        raise Refused(
            IDEM_CHANGED,
            f"{request.kind.value} {request.id} exists with other properties "
            f"({', '.join(changed)} differ)",
        )
    return stored  # as it is now: reserved, rejected, cleared or released


def differences(stored: ReservationRequest, request: ReservationRequest) -> list[str]:
    """The contract names of the properties in which `request` differs from `stored`."""
    pairs = {
        "amount.currency": (stored.amount.currency, request.amount.currency),
        "amount.quantity": (stored.amount.quantity, request.amount.quantity),
        "clientId": (stored.client_id, request.client_id),
        "connectionId": (stored.connection_id, request.connection_id),
        "partnersConnectionId": (stored.partners_connection_id, request.partners_connection_id),
        "partnersClientId": (stored.partners_client_id, request.partners_client_id),
    }
    return [name for name, (old, new) in pairs.items() if old != new]


def _check_names_match(account: Account, request: ReservationRequest) -> None:
    expected = {
        "partnersConnectionId": (account.partners_connection_id, request.partners_connection_id),
        "partnersClientId": (account.partners_client_id, request.partners_client_id),
        "clientId": (account.client_id, request.client_id),
    }
    for name, (own, sent) in expected.items():
        if own != sent:
            raise Refused(
                CON_UNKNOWN,
                f"{name} {sent} is not the one of connection {request.connection_id}",
            )


def settle(book: Book, kind: Kind, reservation_id: str, action: Action) -> Reservation:
    """Clear or release a reserved record; a repeat of the same action changes nothing."""
    stored = book.reservation(reservation_id)
    if stored is None or stored.request.kind is not kind:
        raise Refused(PUT_UNKNOWN, f"no {kind.value} {reservation_id}")
    if stored.status is action.target:
        return stored
    if stored.status is not Status.RESERVED:
        raise Refused(
            PUT_CONFLICT,
            f"{kind.value} {reservation_id} is {stored.status.value}; "
            f"it cannot be {action.target.value}",
        )
    book.set_status(reservation_id, action.target)
    return replace(stored, status=action.target)


def free_balance(records: Iterable[Reservation]) -> int:
    """What a client may take back in one currency: cleared allocations, minus deallocations
    that are cleared (debited) or reserved (held). Reserved allocations count for nothing."""
    free = 0
    for record in records:
        quantity = record.request.amount.quantity
        if record.request.kind is Kind.ALLOCATION and record.status is Status.CLEARED:
            free += quantity
        elif record.request.kind is Kind.DEALLOCATION and record.status in (
            Status.CLEARED,
            Status.RESERVED,
        ):
            free -= quantity
    return free


def held_balance(records: Iterable[Reservation]) -> int:
    """What reserved deallocations hold in one currency."""
    return sum(
        r.request.amount.quantity
        for r in records
        if r.request.kind is Kind.DEALLOCATION and r.status is Status.RESERVED
    )
