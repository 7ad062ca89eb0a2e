"""Read-side queries for the partner read routes and the control plane (the domain's `Reads`
port), and the dispute reads the rules share. No rules, no HTTP."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from oeskit.domain.model import Balance
from oeskit.domain.records import (
    ConnectionBalances,
    Dispute,
    DisputeView,
    Job,
    OutboxEvent,
    Settlement,
    Transfer,
)
from oeskit.store import rows
from oeskit.store.connection import SqliteBase, in_list

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
            members, params = in_list(values)
            self.add(f"{column} IN {members}", *params)

    def sql(self) -> str:
        return " AND ".join(self.clauses) if self.clauses else "TRUE"


class Queries(SqliteBase):
    def list_settlements(
        self,
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
    ) -> list[Settlement]:
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
        return [
            rows.settlement(r)
            for r in self.conn.execute(
                f"SELECT {rows.prefixed(rows.SETTLEMENT_COLUMNS, 's')} FROM settlements s "
                f"WHERE {where.sql()} ORDER BY s.created_at, s.id LIMIT ? OFFSET ?",
                [*where.params, size, _offset(page, size)],
            )
        ]

    def transfers_page(
        self,
        settlement_id: str,
        *,
        source_network: Sequence[str] = (),
        source_trading: Sequence[str] = (),
        destination_network: Sequence[str] = (),
        destination_trading: Sequence[str] = (),
        currencies: Sequence[str] = (),
        page: int = 0,
        size: int = 100,
    ) -> list[Transfer]:
        where = Where()
        where.add("settlement_id = ?", settlement_id)
        where.any_of("source_network_account_id", source_network)
        where.any_of("source_trading_account_id", source_trading)
        where.any_of("destination_network_account_id", destination_network)
        where.any_of("destination_trading_account_id", destination_trading)
        where.any_of("currency", currencies)
        return [
            rows.transfer(r)
            for r in self.conn.execute(
                f"SELECT {rows.TRANSFER_COLUMNS} FROM transfers WHERE {where.sql()} "
                "ORDER BY seq LIMIT ? OFFSET ?",
                [*where.params, size, _offset(page, size)],
            )
        ]

    def list_disputes(
        self,
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
    ) -> list[DisputeView]:
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
        return self._with_closures(
            f"SELECT {rows.prefixed(rows.DISPUTE_COLUMNS, 'd')} FROM disputes d "
            f"JOIN settlements s ON s.id = d.disputed_settlement_id "
            f"WHERE {where.sql()} ORDER BY d.created_at, d.id LIMIT ? OFFSET ?",
            [*where.params, size, _offset(page, size)],
        )

    def _disputes(self, sql: str, params: Sequence[object]) -> list[Dispute]:
        return [rows.dispute(r) for r in self.conn.execute(sql, params)]

    def dispute(self, dispute_id: str) -> Dispute | None:
        found = self._disputes(
            f"SELECT {rows.DISPUTE_COLUMNS} FROM disputes WHERE id = ?", (dispute_id,)
        )
        return found[0] if found else None

    def disputes_on(self, settlement_id: str) -> list[Dispute]:
        return self._disputes(
            f"SELECT {rows.DISPUTE_COLUMNS} FROM disputes WHERE disputed_settlement_id = ? "
            "ORDER BY created_at, id",
            (settlement_id,),
        )

    def _with_closures(self, sql: str, params: Sequence[object]) -> list[DisputeView]:
        """The disputes `sql` selects (DISPUTE_COLUMNS), each with its closure and transfers."""
        return self.views(self._disputes(sql, params))

    def views(self, disputes: list[Dispute]) -> list[DisputeView]:
        closure_ids = [d.dispute_closure_id for d in disputes if d.dispute_closure_id]
        if not closure_ids:
            return [DisputeView(d) for d in disputes]
        closures = {
            c.id: c
            for c in map(
                rows.closure,
                self.conn.execute(
                    f"SELECT {rows.CLOSURE_COLUMNS} FROM closures "
                    "WHERE id IN (SELECT value FROM json_each(?))",
                    (_json(closure_ids),),
                ),
            )
        }
        transfers: dict[str, list[Transfer]] = {}
        for r in self.conn.execute(
            f"SELECT {rows.TRANSFER_COLUMNS} FROM transfers WHERE dispute_closure_id IN "
            "(SELECT value FROM json_each(?)) ORDER BY seq",
            (_json(closure_ids),),
        ):
            t = rows.transfer(r)
            transfers.setdefault(str(t.dispute_closure_id), []).append(t)
        return [
            DisputeView(d)
            if not d.dispute_closure_id
            else DisputeView(
                d,
                closures.get(d.dispute_closure_id),
                tuple(transfers.get(d.dispute_closure_id, ())),
            )
            for d in disputes
        ]

    def dispute_view(self, dispute_id: str) -> DisputeView | None:
        dispute = self.dispute(dispute_id)
        return self.views([dispute])[0] if dispute is not None else None

    def settling_disputes(self, settlement_id: str) -> list[DisputeView]:
        return self._with_closures(
            f"SELECT {rows.DISPUTE_COLUMNS} FROM disputes WHERE settled_in_settlement_id = ? "
            "ORDER BY created_at, id",
            (settlement_id,),
        )

    def settlement_disputes(self, settlement_id: str) -> list[DisputeView]:
        return self.views(self.disputes_on(settlement_id))

    def partner_balances(
        self,
        partner_id: str,
        *,
        connection_ids: Sequence[str] = (),
        client_ids: Sequence[str] = (),
        page: int = 0,
        size: int = 100,
    ) -> tuple[list[ConnectionBalances], dict[str, Balance]]:
        """(a page of the partner's connections with their balances, the partner's own).
        Connections the partner has not initialized (no partners_connection_id) are left out:
        the contract, as upstream, requires that id on every entry."""
        where = Where()
        where.add("partner_id = ?", partner_id)
        where.add("partners_connection_id IS NOT NULL")
        where.any_of("id", connection_ids)
        where.any_of("client_id", client_ids)
        connections = self.conn.execute(
            f"SELECT id, client_id, partners_connection_id FROM connections WHERE {where.sql()} "
            "ORDER BY id LIMIT ? OFFSET ?",
            [*where.params, size, _offset(page, size)],
        ).fetchall()
        balances: dict[str, dict[str, Balance]] = {c[0]: {} for c in connections}
        for connection_id, currency, available, held in self.conn.execute(
            "SELECT connection_id, currency, available, held FROM balances "
            "WHERE connection_id IN (SELECT value FROM json_each(?)) "
            "ORDER BY connection_id, currency",
            (_json([c[0] for c in connections]),),
        ):
            balances[connection_id][currency] = Balance(int(available), int(held or 0))
        own = {
            currency: Balance(int(available), 0)
            for currency, available in self.conn.execute(
                "SELECT currency, available FROM partner_balances WHERE partner_id = ? "
                "ORDER BY currency",
                (partner_id,),
            )
        }
        return [ConnectionBalances(c[0], c[1], c[2], balances[c[0]]) for c in connections], own

    def outbox(
        self, *, event_type: str | None = None, settlement_id: str | None = None
    ) -> list[OutboxEvent]:
        where = Where()
        if event_type:
            where.add("type = ?", event_type)
        if settlement_id:
            where.add("settlement_id = ?", settlement_id)
        return [
            rows.outbox_event(r)
            for r in self.conn.execute(
                f"SELECT {rows.OUTBOX_COLUMNS} FROM outbox WHERE {where.sql()} ORDER BY id",
                where.params,
            )
        ]

    def jobs(self) -> list[Job]:
        return [
            rows.job(r)
            for r in self.conn.execute(
                f"SELECT {rows.JOB_COLUMNS} FROM jobs ORDER BY due_at, kind, id"
            )
        ]

    def requests(self, limit: int = 100, enterprise_id: str | None = None) -> list[dict[str, Any]]:
        if enterprise_id is not None:
            return self._all(
                "SELECT * FROM request_log WHERE enterprise_id = ? ORDER BY id DESC LIMIT ?",
                (enterprise_id, limit),
            )
        return self._all("SELECT * FROM request_log ORDER BY id DESC LIMIT ?", (limit,))

    def partner_keys(self, enterprise_id: str) -> tuple[str, list[dict[str, str]]] | None:
        """(partner id, signing keys as the world gave them, private halves included) of the
        enterprise's partner; for the control plane's signing helper only."""
        row = self.conn.execute(
            "SELECT id, keys FROM partners WHERE enterprise_id = ? ORDER BY id LIMIT 1",
            (enterprise_id,),
        ).fetchone()
        if row is None:
            return None
        return str(row[0]), list(json.loads(row[1]))
