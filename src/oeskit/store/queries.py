"""Read-side queries for the partner read routes and the control plane. No rules, no HTTP."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from oeskit.domain.ports import Row
from oeskit.store.sqlite import SqliteStore

# SQLite integers are 64-bit: a huge pageNumber (the contract sets no maximum) must read as
# "past the end", not overflow the bound parameter into a 500.
_MAX_OFFSET = 2**63 - 1


def _offset(page: int, size: int) -> int:
    return min(page * size, _MAX_OFFSET)


def _json(values: Sequence[str]) -> str:
    return json.dumps(list(values))


@dataclass(slots=True)
class Where:
    """A conjunction of SQL conditions built from optional filters, always parameterized."""

    clauses: list[str] = field(default_factory=list)
    params: list[object] = field(default_factory=list)

    def add(self, clause: str, *params: object) -> None:
        self.clauses.append(clause)
        self.params.extend(params)

    def any_of(self, column: str, values: Sequence[str] | None) -> None:
        if values:
            self.add(f"{column} IN (SELECT value FROM json_each(?))", _json(values))

    def sql(self) -> str:
        return " AND ".join(self.clauses) if self.clauses else "1"


def list_settlements(
    store: SqliteStore,
    partner_id: str,
    *,
    settlement_ids: Sequence[str] = (),
    external_ids: Sequence[str] = (),
    party_ids: Sequence[str] = (),
    counterparty_ids: Sequence[str] = (),
    only_disputed: bool = False,
    created_from: str | None = None,
    created_before: str | None = None,
    updated_from: str | None = None,
    updated_before: str | None = None,
    page: int = 0,
    size: int = 100,
) -> list[Row]:
    where = Where()
    where.add("s.partner_id = ?", partner_id)
    where.any_of("s.id", settlement_ids)
    where.any_of("s.external_id", external_ids)
    if party_ids:
        where.add(
            "EXISTS (SELECT 1 FROM transfers t WHERE t.settlement_id = s.id AND "
            "t.destination_connection_id IN (SELECT value FROM json_each(?)))",
            _json(party_ids),
        )
    if counterparty_ids:
        where.add(
            "EXISTS (SELECT 1 FROM transfers t WHERE t.settlement_id = s.id AND "
            "t.source_connection_id IN (SELECT value FROM json_each(?)))",
            _json(counterparty_ids),
        )
    if only_disputed:
        where.add("s.disputed = 1")
    for column, op, value in (
        ("created_at", ">=", created_from),
        ("created_at", "<", created_before),
        ("updated_at", ">=", updated_from),
        ("updated_at", "<", updated_before),
    ):
        if value is not None:
            where.add(f"s.{column} {op} ?", value)
    return store._all(
        f"SELECT s.* FROM settlements s WHERE {where.sql()} ORDER BY s.created_at, s.id "
        "LIMIT ? OFFSET ?",
        [*where.params, size, _offset(page, size)],
    )


def transfers_page(
    store: SqliteStore,
    settlement_id: str,
    *,
    source_network: Sequence[str] = (),
    source_trading: Sequence[str] = (),
    destination_network: Sequence[str] = (),
    destination_trading: Sequence[str] = (),
    currencies: Sequence[str] = (),
    page: int = 0,
    size: int = 100,
) -> list[Row]:
    where = Where()
    where.add("settlement_id = ?", settlement_id)
    where.any_of("source_network_account_id", source_network)
    where.any_of("source_trading_account_id", source_trading)
    where.any_of("destination_network_account_id", destination_network)
    where.any_of("destination_trading_account_id", destination_trading)
    where.any_of("currency", currencies)
    return store._all(
        f"SELECT * FROM transfers WHERE {where.sql()} ORDER BY seq LIMIT ? OFFSET ?",
        [*where.params, size, _offset(page, size)],
    )


def disputes(
    store: SqliteStore,
    partner_id: str,
    *,
    settlement_ids: Sequence[str] = (),
    settled_in_ids: Sequence[str] = (),
    connection_ids: Sequence[str] = (),
    dispute_ids: Sequence[str] = (),
    closed: bool | None = None,
    show_retracted: bool = False,
    page: int = 0,
    size: int = 100,
) -> list[Row]:
    """Disputes on this partner's settlements, each with its closure (or None)."""
    where = Where()
    where.add("s.partner_id = ?", partner_id)
    where.any_of("d.disputed_settlement_id", settlement_ids)
    where.any_of("d.settled_in_settlement_id", settled_in_ids)
    where.any_of("d.connection_id", connection_ids)
    where.any_of("d.id", dispute_ids)
    if closed is True:
        where.add("d.dispute_closure_id IS NOT NULL")
    elif closed is False:
        where.add("d.dispute_closure_id IS NULL")
    if not show_retracted:
        where.add("d.retracted = 0")
    rows = store._all(
        f"SELECT d.* FROM disputes d JOIN settlements s ON s.id = d.disputed_settlement_id "
        f"WHERE {where.sql()} ORDER BY d.created_at, d.id LIMIT ? OFFSET ?",
        [*where.params, size, _offset(page, size)],
    )
    return with_closures(store, rows)


def with_closures(store: SqliteStore, rows: list[Row]) -> list[Row]:
    closure_ids = [r["dispute_closure_id"] for r in rows if r["dispute_closure_id"]]
    closures: dict[str, Row] = {}
    if closure_ids:
        for c in store._all(
            "SELECT * FROM closures WHERE id IN (SELECT value FROM json_each(?))",
            (_json(closure_ids),),
        ):
            c["transfers"] = []
            closures[c["id"]] = c
        for t in store._all(
            "SELECT * FROM transfers WHERE dispute_closure_id IN "
            "(SELECT value FROM json_each(?)) ORDER BY seq",
            (_json(closure_ids),),
        ):
            closures[t["dispute_closure_id"]]["transfers"].append(t)
    for r in rows:
        r["closure"] = closures.get(r["dispute_closure_id"]) if r["dispute_closure_id"] else None
    return rows


def settling_disputes(store: SqliteStore, settlement_id: str) -> list[Row]:
    return with_closures(
        store,
        store._all(
            "SELECT * FROM disputes WHERE settled_in_settlement_id = ? ORDER BY created_at, id",
            (settlement_id,),
        ),
    )


def settlement_disputes(store: SqliteStore, settlement_id: str) -> list[Row]:
    return with_closures(store, store.disputes_on(settlement_id))


def partner_balances(
    store: SqliteStore,
    partner_id: str,
    *,
    connection_ids: Sequence[str] = (),
    client_ids: Sequence[str] = (),
    page: int = 0,
    size: int = 100,
) -> tuple[list[Row], list[Row], list[Row]]:
    """(connections page, their balance rows, the partner's own balance rows)."""
    where = Where()
    where.add("partner_id = ?", partner_id)
    where.any_of("id", connection_ids)
    where.any_of("client_id", client_ids)
    connections = store._all(
        f"SELECT * FROM connections WHERE {where.sql()} ORDER BY id LIMIT ? OFFSET ?",
        [*where.params, size, _offset(page, size)],
    )
    balances = store._all(
        "SELECT * FROM balances WHERE connection_id IN (SELECT value FROM json_each(?)) "
        "ORDER BY connection_id, currency",
        (_json([c["id"] for c in connections]),),
    )
    own = store._all(
        "SELECT * FROM partner_balances WHERE partner_id = ? ORDER BY currency", (partner_id,)
    )
    return connections, balances, own


def outbox(
    store: SqliteStore, *, event_type: str | None = None, settlement_id: str | None = None
) -> list[Row]:
    where = Where()
    if event_type:
        where.add("type = ?", event_type)
    if settlement_id:
        where.add("settlement_id = ?", settlement_id)
    return store._all(f"SELECT * FROM outbox WHERE {where.sql()} ORDER BY id", where.params)


def jobs(store: SqliteStore) -> list[Row]:
    return store._all("SELECT * FROM jobs ORDER BY due_at, kind, id")


def requests(store: SqliteStore, limit: int = 100) -> list[Row]:
    return store._all("SELECT * FROM request_log ORDER BY id DESC LIMIT ?", (limit,))


def partner_keys(store: SqliteStore, enterprise_id: str) -> tuple[str, list[dict[str, str]]] | None:
    """(partner id, signing keys as the world gave them, private halves included) of the
    enterprise's partner; for the control plane's signing helper only."""
    rows = store._all(
        "SELECT id, keys FROM partners WHERE enterprise_id = ? ORDER BY id LIMIT 1",
        (enterprise_id,),
    )
    if not rows:
        return None
    return str(rows[0]["id"]), list(json.loads(rows[0]["keys"]))
