"""The floor of a big staging: the least any implementation must do with the same body.

floor = parse the body (orjson) + one Ed25519 verify of its payload (PyNaCl) + build the transfer
rows + one raw sqlite3 `executemany` of them into a table with the `transfers` DDL and indexes of
src/oeskit/store/schema.py, in one transaction, in a temp file (WAL, synchronous=NORMAL, as the
store). Each part is reported so the ratio can be read.
"""

from __future__ import annotations

import re
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
from nacl.signing import VerifyKey

from bench.fixtures import transfer_rows
from oeskit.store.schema import MIGRATIONS

INSERT = (
    "INSERT INTO transfers (id, settlement_id, seq, source_connection_id, "
    "destination_connection_id, source_trading_account_id, source_network_account_id, "
    "destination_trading_account_id, destination_network_account_id, currency, quantity, "
    "status, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)


def transfers_ddl() -> list[str]:
    """The CREATE TABLE transfers and CREATE INDEX ... ON transfers statements of the schema."""
    statements = [s.strip() for script in MIGRATIONS for s in script.split(";")]
    return [
        s
        for s in statements
        if re.match(r"CREATE TABLE transfers\b", s) or re.search(r"\bON transfers\b", s)
    ]


def measure(body: bytes, public_key_hex: str, workdir: Path | None = None) -> dict[str, Any]:
    """Time one floor pass over `body`; return its parts and total in milliseconds."""
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        conn = sqlite3.connect(str(Path(tmp) / "floor.db"), isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        for statement in transfers_ddl():
            conn.execute(statement)
        verify_key = VerifyKey(bytes.fromhex(public_key_hex))
        t0 = time.perf_counter()
        parsed = orjson.loads(body)
        t1 = time.perf_counter()
        verify_key.verify(parsed["payload"].encode("utf-8"), bytes.fromhex(parsed["signature"]))
        t2 = time.perf_counter()
        rows = transfer_rows(parsed, str(uuid.uuid4()), "2026-11-01T00:00:00Z")
        t3 = time.perf_counter()
        conn.execute("BEGIN")
        conn.executemany(INSERT, rows)
        conn.execute("COMMIT")
        t4 = time.perf_counter()
        conn.close()
    ms = 1000.0
    return {
        "parse_ms": (t1 - t0) * ms,
        "verify_ms": (t2 - t1) * ms,
        "rows_ms": (t3 - t2) * ms,
        "insert_ms": (t4 - t3) * ms,
        "total_ms": (t4 - t0) * ms,
        "rows": len(rows),
        "body_bytes": len(body),
    }


def measure_median(
    body: bytes, public_key_hex: str, repeats: int = 3, workdir: Path | None = None
) -> dict[str, Any]:
    """The median pass of `repeats` (the same statistic as the staging it is compared with)."""
    runs = sorted(
        (measure(body, public_key_hex, workdir) for _ in range(max(1, repeats))),
        key=lambda r: r["total_ms"],
    )
    return {
        **runs[(len(runs) - 1) // 2],
        "repeats": len(runs),
        "all_total_ms": [round(r["total_ms"], 2) for r in runs],
    }
