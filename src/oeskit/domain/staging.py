"""Staging a v2 settlement: idempotency, semantic checks, the liability check and its effects.

Steps 7 to 10 of the staging path (DESIGN.md). The caller runs `stage` after `access.authorize`
and `signatures.check`; everything here happens inside one immediate transaction, so a rejection
changes nothing and two racing requests for one externalId create one settlement.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson

from oeskit.clock import format_instant, parse_instant
from oeskit.domain import amounts, lifecycle, rules
from oeskit.domain.model import Balance, Caller, Connection, Instruction, Partner
from oeskit.domain.ports import Store
from oeskit.domain.records import (
    EventType,
    JobKind,
    OutboxEvent,
    Settlement,
    SettlementStatus,
)
from oeskit.errors import RuleViolation

NewId = Callable[[], str]


@dataclass(frozen=True, slots=True)
class Staged:
    """The outcome of staging. `created` is the settlement as created when no dispute joined it
    (so the answer needs no re-read); None for replays and dispute-carrying settlements."""

    settlement_id: str
    replay: bool
    created: Settlement | None = None


def windows(partner: Partner, staged_at: datetime) -> tuple[datetime, datetime]:
    """(T1, T2): when the dispute window of a settlement staged at `staged_at` closes, and when
    it executes (domain.md §8.9). Worlds use it for their pending settlements too."""
    window_end = staged_at + timedelta(minutes=partner.dispute_window_minutes or 0)
    return window_end, window_end + timedelta(minutes=partner.top_up_window_minutes or 0)


def finalize_jobs(window_end: datetime, execute_at: datetime) -> list[tuple[JobKind, datetime]]:
    """The two jobs that finalize a pending settlement (`lifecycle.run_due` runs them)."""
    return [(JobKind.CLOSE_DISPUTE_WINDOW, window_end), (JobKind.EXECUTE, execute_at)]


def fingerprint(body: Mapping[str, object], items: list[Instruction]) -> str:
    """What makes two requests 'the same settlement' (domain.md §7): notes, the cutoffAt
    instant and the multiset of normalized transfers. nonce, payload and signature are not
    properties of a settlement."""
    cutoff = parse_instant(str(body["cutoffAt"]))
    transfers = sorted((i.source or "", i.destination, i.currency, str(i.quantity)) for i in items)
    material = {"notes": body.get("notes"), "cutoffAt": format_instant(cutoff), "t": transfers}
    return hashlib.sha256(orjson.dumps(material)).hexdigest()


def _map(
    store: Store, partner: Partner, body: Mapping[str, object]
) -> tuple[list[Instruction], dict[str, Connection]]:
    """The transfers the body asks for, and the connections they name."""
    settlement_amounts = body["settlementAmounts"]
    assert isinstance(settlement_amounts, Mapping)
    shape = amounts.classify(settlement_amounts)
    ids = amounts.connection_ids(settlement_amounts, shape)
    connections = store.connections(partner.id, ids)
    return amounts.instructions(settlement_amounts, shape, partner, connections), connections


def stage(
    store: Store,
    partner: Partner,
    caller: Caller,
    body: Mapping[str, object],
    now: datetime,
    new_id: NewId,
) -> Staged:
    """Create the settlement, or answer the stored one for an identical replay."""
    external_id = str(body["externalId"])
    _cutoff(body)  # before the transaction: a date the schema allows but Python cannot hold
    with store.immediate():
        existing = store.settlement_by_external_id(partner.id, external_id)
        if existing is not None:
            return _replay(store, partner, existing, body, now, new_id)
        if partner.enforce_unique_nonce and store.nonce_used(partner.id, str(body["nonce"])):
            raise RuleViolation(
                rules.IDEM_NONCE,
                "nonce was already used by another settlement of this partner: sign every "
                "request with a fresh random nonce",
            )
        items, connections = _map(store, partner, body)
        disputes = store.closed_unassigned_disputes(partner.id)
        closure_ids = [str(d.dispute_closure_id) for d in disputes]
        adjusted = store.closure_transfers(closure_ids)
        owed = amounts.liabilities(items + adjusted)
        balances = check_liabilities(store, owed)

        settlement_id = new_id()
        window_end, execute_at = windows(partner, now)
        stamp = format_instant(now)
        notes = body.get("notes")
        settlement = Settlement(
            id=settlement_id,
            partner_id=partner.id,
            external_id=external_id,
            status=SettlementStatus.PENDING,
            initiated_by=caller.user_id,
            notes=None if notes is None else str(notes),
            cutoff_at=format_instant(parse_instant(str(body["cutoffAt"]))),
            created_at=stamp,
            updated_at=stamp,
            nonce=str(body["nonce"]),
            payload=str(body["payload"]),
            signature=str(body["signature"]),
            fingerprint=fingerprint(body, items),
            dispute_window_ends_at=format_instant(window_end),
            execute_at=format_instant(execute_at),
        )
        store.insert_settlement(settlement)
        missing = {i.destination for i in adjusted} - set(connections)
        if missing:  # dispute adjustments may name connections the new amounts do not
            connections.update(store.connections(partner.id, missing))
        store.insert_transfers(settlement_id, items, partner, connections, now)
        if disputes:
            store.assign_disputes([d.id for d in disputes], closure_ids, settlement_id, now)
        store.add_holds(settlement_id, owed, balances)
        store.add_outbox(
            _notifications(settlement_id, external_id, items + adjusted, connections, stamp)
        )
        store.add_jobs(settlement_id, finalize_jobs(window_end, execute_at))
        return Staged(settlement_id, replay=False, created=None if disputes else settlement)


def _cutoff(body: Mapping[str, object]) -> datetime:
    text = str(body["cutoffAt"])
    try:
        return parse_instant(text)
    except (ValueError, OverflowError):
        # RFC 3339 allows leap seconds and years such as 0000; datetime holds neither.
        raise RuleViolation(
            rules.REQ_SCHEMA,
            f"cutoffAt: {text[:60]!r} is not an instant this server can represent (use an RFC "
            "3339 date-time with an offset, seconds 00-59, between years 0001 and 9999 UTC)",
        ) from None


def check_liabilities(
    store: Store, owed: Mapping[tuple[str, str], int]
) -> dict[tuple[str, str], Balance]:
    """The balances behind `owed` (read in the caller's transaction), or OES-BAL-001 naming the
    first connection and currency, in a stable order, whose available balance is short.
    Worlds check their pending settlements with it too."""
    balances = store.balances(owed)
    short = [
        key
        for key, required in owed.items()
        if required > (balances[key].available if key in balances else 0)
    ]
    for connection_id, currency in sorted(short)[:1]:  # name the first, in a stable order
        required = owed[(connection_id, currency)]
        balance = balances.get((connection_id, currency))
        available = balance.available if balance else 0
        if required > available:
            raise RuleViolation(
                rules.BAL_LIABILITY,
                f"liabilities of connection {connection_id} exceed its allocated balance for "
                f"{currency}: required {required}, available {available}. The client must "
                "allocate more to this connection before the settlement can be staged",
                {
                    "connectionId": connection_id,
                    "currency": currency,
                    "required": str(required),
                    "available": str(available),
                },
            )
    return balances


def _notifications(
    settlement_id: str,
    external_id: str,
    items: list[Instruction],
    connections: Mapping[str, Connection],
    at: str,
) -> list[OutboxEvent]:
    seen: dict[str, OutboxEvent] = {}
    data = {"externalId": external_id}  # one object for every event: the store encodes it once
    for item in items:
        for conn_id in (item.source, item.destination):
            if conn_id is None or conn_id in seen:
                continue
            connection = connections.get(conn_id)
            seen[conn_id] = OutboxEvent(
                EventType.CREATED,
                at,
                data,
                settlement_id,
                conn_id,
                connection.client_id if connection is not None else None,
            )
    return list(seen.values())


def _replay(
    store: Store,
    partner: Partner,
    existing: Settlement,
    body: Mapping[str, object],
    now: datetime,
    new_id: NewId,
) -> Staged:
    try:
        settlement_amounts = body["settlementAmounts"]
        assert isinstance(settlement_amounts, Mapping)
        shape = amounts.classify(settlement_amounts)
        # No connection lookups: unknown ids simply make a different fingerprint.
        items = amounts.instructions(settlement_amounts, shape, partner, None)
        same = fingerprint(body, items) == existing.fingerprint
    except (RuleViolation, ValueError):
        same = False  # the stored settlement was valid, so an invalid request cannot equal it
    if not same:
        raise RuleViolation(
            rules.IDEM_CONFLICT,
            f"a settlement with externalId {existing.external_id!r} already exists with "
            "different properties (notes, cutoffAt or amounts): use a new externalId for a new "
            "settlement, or resend the original request unchanged",
            {"settlementId": existing.id},
        )
    if existing.status == SettlementStatus.FAILED and format_instant(now) >= str(
        existing.execute_at
    ):
        lifecycle.execute(store, existing.id, now, new_id)
    return Staged(existing.id, replay=True)
