"""The dispute rows of the Store protocol: disputes and closures written by `domain/disputes`,
closure transfers waiting for a settlement, and their assignment when a settlement carries them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from oeskit.clock import format_instant
from oeskit.domain.model import Instruction
from oeskit.domain.records import Closure, ClosureStatus, Dispute, TransferStatus
from oeskit.store import rows
from oeskit.store.connection import dumps as _dumps
from oeskit.store.directory import Directory

_PENDING = TransferStatus.PENDING.value
_ASSIGNMENT = TransferStatus.PENDING_SETTLEMENT_ASSIGNMENT.value
# Built once: every staging asks for closed disputes, most often finding none.
_CLOSED_UNASSIGNED = (
    f"SELECT {rows.prefixed(rows.DISPUTE_COLUMNS, 'd')} FROM disputes d "
    "JOIN settlements s ON s.id = d.disputed_settlement_id "
    "JOIN closures c ON c.id = d.dispute_closure_id "
    "WHERE s.partner_id = ? AND d.settled_in_settlement_id IS NULL "
    f"AND d.retracted = 0 AND c.status = '{ClosureStatus.APPROVED.value}' "
    "ORDER BY d.created_at, d.id"
)


class DisputeRows(Directory):
    def closed_unassigned_disputes(self, partner_id: str) -> list[Dispute]:
        return [rows.dispute(r) for r in self.conn.execute(_CLOSED_UNASSIGNED, (partner_id,))]

    def closure_transfers(self, closure_ids: Sequence[str]) -> list[Instruction]:
        if not closure_ids:
            return []
        return [
            rows.transfer(r).instruction()
            for r in self.conn.execute(
                f"SELECT {rows.TRANSFER_COLUMNS} FROM transfers "
                "WHERE dispute_closure_id IN (SELECT value FROM json_each(?)) ORDER BY seq",
                (_dumps(list(closure_ids)),),
            )
        ]

    def assign_disputes(
        self,
        dispute_ids: Sequence[str],
        closure_ids: Sequence[str],
        settlement_id: str,
        now: datetime,
    ) -> None:
        if not dispute_ids:
            return
        stamp = format_instant(now)
        self.conn.execute(
            "UPDATE disputes SET settled_in_settlement_id = ?, updated_at = ? "
            "WHERE id IN (SELECT value FROM json_each(?))",
            (settlement_id, stamp, _dumps(list(dispute_ids))),
        )
        self.conn.execute(
            "UPDATE transfers SET settlement_id = ?, status = ?, updated_at = ?, "
            "seq = seq + 1000000000 WHERE dispute_closure_id IN (SELECT value FROM json_each(?))",
            (settlement_id, _PENDING, stamp, _dumps(list(closure_ids))),
        )

    def insert_dispute(self, dispute: Dispute) -> None:
        self.conn.execute(
            f"INSERT INTO disputes ({rows.DISPUTE_COLUMNS}) VALUES ({'?, ' * 13}?)",
            (
                dispute.id,
                dispute.disputed_settlement_id,
                dispute.connection_id,
                dispute.user_id,
                dispute.reason,
                _dumps(dict(dispute.expected_transfers)),
                dispute.created_at,
                dispute.updated_at,
                int(dispute.retracted),
                dispute.retracted_by,
                dispute.retracted_at,
                dispute.retracted_reason,
                dispute.dispute_closure_id,
                dispute.settled_in_settlement_id,
            ),
        )

    def save_dispute(self, dispute: Dispute) -> None:
        self.conn.execute(
            "UPDATE disputes SET retracted = ?, retracted_by = ?, retracted_at = ?, "
            "retracted_reason = ?, dispute_closure_id = ?, settled_in_settlement_id = ?, "
            "updated_at = ? WHERE id = ?",
            (
                int(dispute.retracted),
                dispute.retracted_by,
                dispute.retracted_at,
                dispute.retracted_reason,
                dispute.dispute_closure_id,
                dispute.settled_in_settlement_id,
                dispute.updated_at,
                dispute.id,
            ),
        )

    def insert_closure(self, closure: Closure) -> None:
        self.conn.execute(
            f"INSERT INTO closures ({rows.CLOSURE_COLUMNS}) VALUES ({'?, ' * 9}?)",
            (
                closure.id,
                closure.dispute_id,
                closure.closed_by.value,
                closure.user_id,
                closure.notes,
                closure.status.value,
                _dumps(dict(closure.adjusted_transfers)),
                closure.created_at,
                closure.reviewed_by,
                closure.review_notes,
            ),
        )

    def insert_closure_transfers(
        self,
        closure_id: str,
        partner_id: str,
        connection_id: str,
        amounts: Sequence[tuple[str, int, str]],
        now: datetime,
    ) -> None:
        partner = self.partner(partner_id)
        connection = self.connections(partner_id, [connection_id])[connection_id]
        assert partner is not None
        stamp = format_instant(now)
        self.conn.executemany(
            "INSERT INTO transfers (id, settlement_id, seq, source_connection_id, "
            "destination_connection_id, source_trading_account_id, source_network_account_id, "
            "destination_trading_account_id, destination_network_account_id, currency, quantity, "
            "status, dispute_closure_id, created_at, updated_at) "
            "VALUES (?, NULL, ?, NULL, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    tid,
                    seq,
                    connection_id,
                    partner.trading_account_id,
                    connection.trading_account_id,
                    connection.network_account_id,
                    currency,
                    str(quantity),
                    _ASSIGNMENT,
                    closure_id,
                    stamp,
                    stamp,
                )
                for seq, (currency, quantity, tid) in enumerate(amounts)
            ],
        )
