"""Rules of the allocations and deallocations the sandbox runs, as BitGo, against a partner's
hosted endpoints: what a new request may do, which step comes next, what each answer of the
partner makes of the record, and how the connection's available balance moves. No I/O, no
HTTP statuses, no clock reads (`now` is passed in as the stored instant text).

A record goes `reserved` -> `cleared` or `released`. While reserved, its `step` says what the
sandbox still has to do: send the partner's POST (`reserve`), send the clear PUT (`clear`), or
wait for the partner's own update through BitGo's async PUT route (`await`). Money: a cleared
allocation adds its amount to the connection's available balance; a deallocation takes its
amount out of `available` when it starts (so no settlement spends it meanwhile) and gives it
back if it is released.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from urllib.parse import urlsplit

from oeskit.domain.model import Balance, Connection, Currency, Partner
from oeskit.domain.sandbox_rules import SBX_INVALID, SBX_OVERDRAW, SBX_STATE
from oeskit.errors import RuleViolation

#: Attempts of one call before the record is left `reserved` and retriable.
MAX_ATTEMPTS = 3
#: Seconds to wait before the 2nd, 3rd, ... attempt.
BACKOFF_S = (0.05, 0.2, 0.5)


class Kind(StrEnum):
    ALLOCATION = "allocation"
    DEALLOCATION = "deallocation"


class Status(StrEnum):
    RESERVED = "reserved"
    CLEARED = "cleared"
    RELEASED = "released"


class Step(StrEnum):
    RESERVE = "reserve"  # the partner's POST is still to be answered
    CLEAR = "clear"  # the clear PUT is still to be answered
    AWAIT = "await"  # async partner: its update through BitGo's PUT route is awaited
    DONE = "done"


@dataclass(frozen=True, slots=True)
class AllocationRecord:
    id: str
    kind: Kind
    partner_id: str
    connection_id: str
    client_id: str
    currency: str  # BitGo code (balances are kept per BitGo currency)
    partner_currency: str  # the partner's code, sent to it
    quantity: int
    status: Status
    step: Step
    reason: str | None
    retriable: bool
    client_external_id: str
    partner_external_id: str | None
    initiated_by: str
    created_at: str
    updated_at: str

    def same_request(self, kind: Kind, currency: str, quantity: int) -> bool:
        return (self.kind, self.currency, self.quantity) == (kind, currency, quantity)


@dataclass(frozen=True, slots=True)
class PartnerAnswer:
    """What the partner's 200 to a POST said: its status word, its id, its reason."""

    status: str  # reserved | rejected | cleared | released
    partner_ref: str | None
    rejection_reason: str | None


def check_base_url(base_url: str | None) -> None:
    """A partner's base URL: http or https, a host, a valid port, no query or fragment."""
    if base_url is None:
        return
    try:
        parts = urlsplit(base_url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError as exc:
        raise RuleViolation(SBX_INVALID, f"baseUrl {base_url!r} is not a URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise RuleViolation(
            SBX_INVALID, f"baseUrl {base_url!r} must be http(s)://host[:port][/path]"
        )
    if parts.query or parts.fragment or not base_url.isascii() or not base_url.isprintable():
        raise RuleViolation(
            SBX_INVALID, f"baseUrl {base_url!r} must be printable ASCII without query or fragment"
        )


def resolve_currency(partner: Partner, code: str) -> Currency:
    """The partner's currency named by its BitGo code or its own code (400 otherwise)."""
    found = partner.currency_by_bitgo(code) or partner.currency(code)
    if found is None:
        codes = ", ".join(f"{c.bitgo} ({c.code})" for c in partner.currencies)
        raise RuleViolation(
            SBX_INVALID, f"currency {code!r} is not one of partner {partner.id}'s: {codes}"
        )
    return found


def linked(connection: Connection, partners_ids: tuple[str | None, str | None]) -> None:
    """The connection must be linked to the partner (its ids known) before money moves."""
    if not all(partners_ids):
        raise RuleViolation(
            SBX_STATE,
            f"connection {connection.id} has no partnersConnectionId/partnersClientId: connect "
            "it through POST /sandbox/connections first",
        )


def start(
    *,
    record_id: str,
    kind: Kind,
    partner: Partner,
    connection: Connection,
    currency: Currency,
    quantity: int,
    balance: Balance,
    client_external_id: str,
    initiated_by: str,
    now: str,
) -> tuple[AllocationRecord, int]:
    """A new reserved record and the change to the connection's available balance.

    A deallocation larger than the available balance is refused before anything is sent.
    """
    if quantity <= 0:
        raise RuleViolation(SBX_INVALID, "quantity must be a positive integer of base units")
    if kind is Kind.DEALLOCATION and quantity > balance.available:
        raise RuleViolation(
            SBX_OVERDRAW,
            f"deallocation of {quantity} {currency.bitgo} exceeds the available balance of "
            f"connection {connection.id}: {balance.available}",
            {"available": str(balance.available), "required": str(quantity)},
        )
    record = AllocationRecord(
        id=record_id,
        kind=kind,
        partner_id=partner.id,
        connection_id=connection.id,
        client_id=connection.client_id,
        currency=currency.bitgo,
        partner_currency=currency.code,
        quantity=quantity,
        status=Status.RESERVED,
        step=Step.RESERVE,
        reason=None,
        retriable=False,
        client_external_id=client_external_id,
        partner_external_id=None,
        initiated_by=initiated_by,
        created_at=now,
        updated_at=now,
    )
    return record, -quantity if kind is Kind.DEALLOCATION else 0


def resumable(record: AllocationRecord) -> bool:
    """Posting the same request again sends the calls still owed (a retriable record)."""
    return record.status is Status.RESERVED and record.step in (Step.RESERVE, Step.CLEAR)


def after_reserve(
    record: AllocationRecord, answer: PartnerAnswer, asynchronous: bool, now: str
) -> tuple[AllocationRecord, int]:
    """The partner answered the POST: next step, or the end, and the balance change."""
    ref = answer.partner_ref or record.partner_external_id
    if answer.status == "rejected" or answer.status == "released":
        reason = answer.rejection_reason or f"the partner answered status {answer.status}"
        return finish(record, Status.RELEASED, reason, now, partner_ref=ref)
    if answer.status == "cleared":
        return finish(record, Status.CLEARED, None, now, partner_ref=ref)
    step = Step.AWAIT if asynchronous else Step.CLEAR
    waiting: str | None = (
        "awaiting the partner's update (async allocations)" if asynchronous else None
    )
    return (
        replace(
            record,
            step=step,
            partner_external_id=ref,
            retriable=False,
            reason=waiting,
            updated_at=now,
        ),
        0,
    )


def after_failure(record: AllocationRecord, reason: str, now: str) -> AllocationRecord:
    """Every attempt failed for a reason a retry may cure: still reserved, retriable."""
    return replace(record, retriable=True, reason=reason, updated_at=now)


def after_refusal(record: AllocationRecord, reason: str, now: str) -> tuple[AllocationRecord, int]:
    """The partner refused the POST (a 4xx): nothing was reserved there; released."""
    return finish(record, Status.RELEASED, reason, now)


def finish(
    record: AllocationRecord,
    status: Status,
    reason: str | None,
    now: str,
    *,
    partner_ref: str | None = None,
) -> tuple[AllocationRecord, int]:
    """The record's final state and the change to the available balance it makes."""
    if status is Status.CLEARED:
        delta = record.quantity if record.kind is Kind.ALLOCATION else 0
    else:
        delta = record.quantity if record.kind is Kind.DEALLOCATION else 0
    done = replace(
        record,
        status=status,
        step=Step.DONE,
        reason=reason if status is Status.RELEASED else None,
        retriable=False,
        partner_external_id=partner_ref or record.partner_external_id,
        updated_at=now,
    )
    return done, delta
