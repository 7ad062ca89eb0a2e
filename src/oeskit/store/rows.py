"""How the records of `domain/records.py` are kept as rows: the column lists the store selects
and the converters from a row to a record. The one place that knows both names.

Rows are read by position (a `sqlite3.Row` or a PostgreSQL tuple), in the order of the column
lists, which is also the records' field order.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from oeskit.domain.records import (
    ClosedBy,
    Closure,
    ClosureStatus,
    Dispute,
    EventType,
    Job,
    JobKind,
    JobStatus,
    OutboxEvent,
    Settlement,
    SettlementStatus,
    Transfer,
    TransferStatus,
)

SETTLEMENT_COLUMNS = (
    "id, partner_id, external_id, status, initiated_by, notes, cutoff_at, created_at, "
    "updated_at, finalized_at, reason, disputed, nonce, payload, signature, fingerprint, "
    "dispute_window_ends_at, execute_at, window_closed_at"
)
TRANSFER_COLUMNS = (
    "id, settlement_id, seq, source_connection_id, destination_connection_id, "
    "source_trading_account_id, source_network_account_id, destination_trading_account_id, "
    "destination_network_account_id, currency, quantity, status, tx_ids, dispute_closure_id, "
    "created_at, updated_at"
)
DISPUTE_COLUMNS = (
    "id, disputed_settlement_id, connection_id, user_id, reason, expected_transfers, "
    "created_at, updated_at, retracted, retracted_by, retracted_at, retracted_reason, "
    "dispute_closure_id, settled_in_settlement_id"
)
CLOSURE_COLUMNS = (
    "id, dispute_id, closed_by, user_id, notes, status, adjusted_transfers, created_at, "
    "reviewed_by, review_notes"
)
JOB_COLUMNS = "id, kind, settlement_id, due_at, status, attempts, worker, done_at"
OUTBOX_COLUMNS = "type, at, data, settlement_id, connection_id, client_id, id"

# Dict lookups instead of Enum(value) calls: ~20x cheaper, and a big settlement reads 50,000.
_TRANSFER_STATUS = {s.value: s for s in TransferStatus}
_NO_TX: tuple[str, ...] = ()


def prefixed(columns: str, alias: str) -> str:
    """`columns` qualified by a table alias, for joins."""
    return ", ".join(f"{alias}.{name.strip()}" for name in columns.split(","))


def settlement(r: Sequence[Any]) -> Settlement:
    return Settlement(
        r[0],
        r[1],
        r[2],
        SettlementStatus(r[3]),
        r[4],
        r[5],
        r[6],
        r[7],
        r[8],
        r[9],
        r[10],
        bool(r[11]),
        r[12],
        r[13],
        r[14],
        r[15],
        r[16],
        r[17],
        r[18],
    )


def settlement_values(s: Settlement) -> tuple[object, ...]:
    """The row of `s`, in SETTLEMENT_COLUMNS order."""
    return (
        s.id,
        s.partner_id,
        s.external_id,
        s.status.value,
        s.initiated_by,
        s.notes,
        s.cutoff_at,
        s.created_at,
        s.updated_at,
        s.finalized_at,
        s.reason,
        int(s.disputed),
        s.nonce,
        s.payload,
        s.signature,
        s.fingerprint,
        s.dispute_window_ends_at,
        s.execute_at,
        s.window_closed_at,
    )


def transfer(r: Sequence[Any]) -> Transfer:
    tx_ids = r[12]
    return Transfer(
        r[0],
        r[1],
        r[2],
        r[3],
        r[4],
        r[5],
        r[6],
        r[7],
        r[8],
        r[9],
        r[10],
        _TRANSFER_STATUS[r[11]],
        # Most transfers have none yet: skip the JSON parser for the stored '[]'.
        _NO_TX if tx_ids == "[]" else tuple(orjson.loads(tx_ids)),
        r[13],
        r[14],
        r[15],
    )


def _mapping(text: str | None) -> Mapping[str, str]:
    value: Any = json.loads(text) if text else {}
    return value if isinstance(value, dict) else {}


def dispute(r: Sequence[Any]) -> Dispute:
    return Dispute(
        r[0],
        r[1],
        r[2],
        r[3],
        r[4],
        _mapping(r[5]),
        r[6],
        r[7],
        bool(r[8]),
        r[9],
        r[10],
        r[11],
        r[12],
        r[13],
    )


def closure(r: Sequence[Any]) -> Closure:
    return Closure(
        r[0],
        r[1],
        ClosedBy(r[2]),
        r[3],
        r[4],
        ClosureStatus(r[5]),
        _mapping(r[6]),
        r[7],
        r[8],
        r[9],
    )


def job(r: Sequence[Any]) -> Job:
    return Job(r[0], JobKind(r[1]), r[2], r[3], JobStatus(r[4]), int(r[5]), r[6], r[7])


def outbox_event(r: Sequence[Any]) -> OutboxEvent:
    data: Any = json.loads(r[2])
    return OutboxEvent(EventType(r[0]), r[1], data, r[3], r[4], r[5], r[6])
