"""Rows of the sandbox's BitGo side toward partner-hosted endpoints (the domain's `Hosted`
port): BitGo's key, partners' hosted URLs, linked connections, allocation records and the log
of calls made. No rules."""

from __future__ import annotations

from oeskit.domain.allocation_flow import AllocationRecord, Kind, Status, Step
from oeskit.domain.hosted_ports import AllocationFilter, HostedTarget, PartnerCall
from oeskit.domain.model import Connection
from oeskit.store.connection import Row, SqliteBase
from oeskit.store.queries import Where, _offset

_ALLOCATION_COLUMNS = (
    "id, type, partner_id, connection_id, client_id, currency, partner_currency, quantity, "
    "status, step, reason, retriable, client_external_id, partner_external_id, initiated_by, "
    "created_at, updated_at"
)
_CALL_COLUMNS = (
    "at, partner_id, subject_id, method, url, path, attempt, status, outcome, error, jti, "
    "duration_ms, request_body, response_body"
)
# BitGo's sort fields; a final createdAt, id ascending keeps pages stable.
_SORT = {"id": "id", "updatedAt": "updated_at", "quantity": "CAST(quantity AS REAL)"}


def _record(r: Row) -> AllocationRecord:
    return AllocationRecord(
        id=r["id"],
        kind=Kind(r["type"]),
        partner_id=r["partner_id"],
        connection_id=r["connection_id"],
        client_id=r["client_id"],
        currency=r["currency"],
        partner_currency=r["partner_currency"],
        quantity=int(r["quantity"]),
        status=Status(r["status"]),
        step=Step(r["step"]),
        reason=r["reason"],
        retriable=bool(r["retriable"]),
        client_external_id=r["client_external_id"],
        partner_external_id=r["partner_external_id"],
        initiated_by=r["initiated_by"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
    )


def _values(a: AllocationRecord) -> tuple[object, ...]:
    return (
        a.id,
        a.kind.value,
        a.partner_id,
        a.connection_id,
        a.client_id,
        a.currency,
        a.partner_currency,
        str(a.quantity),
        a.status.value,
        a.step.value,
        a.reason,
        int(a.retriable),
        a.client_external_id,
        a.partner_external_id,
        a.initiated_by,
        a.created_at,
        a.updated_at,
    )


class HostedRows(SqliteBase):
    def bitgo_private_pem(self) -> str | None:
        row = self._one("SELECT private_pem FROM bitgo_keys WHERE id = 1")
        return str(row["private_pem"]) if row else None

    def keep_bitgo_private_pem(self, private_pem: str, now: str) -> str:
        with self.immediate():
            self.conn.execute(
                "INSERT INTO bitgo_keys VALUES (1, ?, ?) ON CONFLICT DO NOTHING", (private_pem, now)
            )
            kept = self.bitgo_private_pem()
        assert kept is not None
        return kept

    def hosted_target(self, partner_id: str) -> HostedTarget | None:
        row = self._one(
            "SELECT hosted_url, async_allocations FROM partners WHERE id = ?", (partner_id,)
        )
        if row is None:
            return None
        return HostedTarget(row["hosted_url"], bool(row["async_allocations"]))

    def set_hosted_target(
        self, partner_id: str, base_url: str | None, asynchronous: bool | None
    ) -> None:
        self.conn.execute("UPDATE partners SET hosted_url = ? WHERE id = ?", (base_url, partner_id))
        if asynchronous is not None:
            self.conn.execute(
                "UPDATE partners SET async_allocations = ? WHERE id = ?",
                (int(asynchronous), partner_id),
            )

    def partners_ids(self, connection_id: str) -> tuple[str | None, str | None]:
        row = self._one(
            "SELECT partners_connection_id, partners_client_id FROM connections WHERE id = ?",
            (connection_id,),
        )
        if row is None:
            return None, None
        return row["partners_connection_id"], row["partners_client_id"]

    def connection_by_token(self, partner_id: str, digest: str) -> Connection | None:
        row = self._one(
            "SELECT c.id, c.partner_id, c.client_id, c.network_account_id, c.active, "
            "cl.trading_account_id FROM connections c JOIN clients cl ON cl.id = c.client_id "
            "WHERE c.partner_id = ? AND c.token_digest = ?",
            (partner_id, digest),
        )
        if row is None:
            return None
        return Connection(
            row["id"],
            row["partner_id"],
            row["client_id"],
            row["network_account_id"],
            row["trading_account_id"],
            bool(row["active"]),
        )

    def add_client(self, client_id: str) -> None:
        self.conn.execute(
            "INSERT INTO clients VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (client_id, client_id, f"{client_id}-go-account"),
        )

    def insert_connection(self, connection: Connection, token_digest: str) -> None:
        self.conn.execute(
            "INSERT INTO connections (id, partner_id, client_id, network_account_id, active, "
            "token_digest) VALUES (?, ?, ?, ?, ?, ?)",
            (
                connection.id,
                connection.partner_id,
                connection.client_id,
                connection.network_account_id,
                int(connection.active),
                token_digest,
            ),
        )

    def link_connection(
        self, connection_id: str, partners_connection_id: str, partners_client_id: str
    ) -> None:
        self.conn.execute(
            "UPDATE connections SET partners_connection_id = ?, partners_client_id = ? "
            "WHERE id = ?",
            (partners_connection_id, partners_client_id, connection_id),
        )

    def delete_connection(self, connection_id: str) -> None:
        self.conn.execute("DELETE FROM connections WHERE id = ?", (connection_id,))
        self.conn.execute("DELETE FROM balances WHERE connection_id = ?", (connection_id,))

    def allocation(self, record_id: str) -> AllocationRecord | None:
        row = self._one(f"SELECT {_ALLOCATION_COLUMNS} FROM allocations WHERE id = ?", (record_id,))
        return _record(row) if row else None

    def allocation_by_request(
        self, connection_id: str, client_external_id: str
    ) -> AllocationRecord | None:
        row = self._one(
            f"SELECT {_ALLOCATION_COLUMNS} FROM allocations "
            "WHERE connection_id = ? AND client_external_id = ?",
            (connection_id, client_external_id),
        )
        return _record(row) if row else None

    def insert_allocation(self, record: AllocationRecord) -> None:
        self.conn.execute(
            f"INSERT INTO allocations ({_ALLOCATION_COLUMNS}) VALUES ({', '.join('?' * 17)})",
            _values(record),
        )

    def save_allocation(self, record: AllocationRecord) -> None:
        self.conn.execute(
            "UPDATE allocations SET status = ?, step = ?, reason = ?, retriable = ?, "
            "partner_external_id = ?, updated_at = ? WHERE id = ?",
            (
                record.status.value,
                record.step.value,
                record.reason,
                int(record.retriable),
                record.partner_external_id,
                record.updated_at,
                record.id,
            ),
        )

    def list_allocations(self, partner_id: str, where: AllocationFilter) -> list[AllocationRecord]:
        w = Where()
        w.add("partner_id = ?", partner_id)
        w.any_of("id", where.ids)
        w.any_of("type", where.kinds)
        w.any_of("status", where.statuses)
        w.any_of("partner_currency", where.currencies)
        w.any_of("connection_id", where.connection_ids)
        w.any_of("client_id", where.client_ids)
        order = "created_at, id"
        if where.sort_field in _SORT:
            direction = "DESC" if where.descending else "ASC"
            order = f"{_SORT[where.sort_field]} {direction}, {order}"
        rows = self._all(
            f"SELECT {_ALLOCATION_COLUMNS} FROM allocations WHERE {w.sql()} ORDER BY {order} "
            "LIMIT ? OFFSET ?",
            [*w.params, where.size, _offset(where.page, where.size)],
        )
        return [_record(r) for r in rows]

    def add_partner_call(self, call: PartnerCall) -> None:
        self.conn.execute(
            f"INSERT INTO partner_calls ({_CALL_COLUMNS}) VALUES ({', '.join('?' * 14)})",
            (
                call.at,
                call.partner_id,
                call.subject_id,
                call.method,
                call.url,
                call.path,
                call.attempt,
                call.status,
                call.outcome,
                call.error,
                call.jti,
                call.duration_ms,
                call.request_body,
                call.response_body,
            ),
        )

    def partner_calls(
        self, limit: int = 100, partner_id: str | None = None, subject_id: str | None = None
    ) -> list[PartnerCall]:
        w = Where()
        if partner_id is not None:
            w.add("partner_id = ?", partner_id)
        if subject_id is not None:
            w.add("subject_id = ?", subject_id)
        rows = self._all(
            f"SELECT id, {_CALL_COLUMNS} FROM partner_calls WHERE {w.sql()} "
            "ORDER BY id DESC LIMIT ?",
            [*w.params, limit],
        )
        return [PartnerCall(**r) for r in reversed(rows)]
