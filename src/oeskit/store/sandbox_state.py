"""Sandbox state kept beside the business tables: the clock, armed faults and the request log."""

from __future__ import annotations

import json

from oeskit.clock import ClockState, parse_instant
from oeskit.errors import StoreUnavailable
from oeskit.store.connection import Row, SqliteBase
from oeskit.store.connection import dumps as _dumps

# The request log's columns, in the order `log_request` takes them.
LOG_COLUMNS = (
    "at",
    "method",
    "path",
    "status",
    "rule",
    "duration_ms",
    "enterprise_id",
    "content_type",
    "retry_after",
    "fault",
    "body",
)
_INSERT_LOG = (
    f"INSERT INTO request_log ({', '.join(LOG_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in LOG_COLUMNS)})"
)


class SandboxState(SqliteBase):
    def clock_state(self) -> ClockState:
        raw = self._clock_raw
        if raw is None:  # outside a request: read it (another worker may have moved it)
            row = self.conn.execute("SELECT value FROM meta WHERE key = 'clock'").fetchone()
            if row is None:
                return ClockState()
            raw = row[0]
        return self._cached("clock", raw, lambda: self._parse_clock(raw))

    @staticmethod
    def _parse_clock(value: str) -> ClockState:
        data = json.loads(value)
        return ClockState(
            mode=data["mode"],
            speed=float(data["speed"]),
            anchor_real=parse_instant(data["anchorReal"]) if data.get("anchorReal") else None,
            anchor_virtual=parse_instant(data["anchorVirtual"])
            if data.get("anchorVirtual")
            else None,
        )

    def set_clock_state(self, state: ClockState) -> None:
        value = _dumps(
            {
                "mode": state.mode,
                "speed": state.speed,
                "anchorReal": state.anchor_real.isoformat() if state.anchor_real else None,
                "anchorVirtual": state.anchor_virtual.isoformat() if state.anchor_virtual else None,
            }
        )
        self.conn.execute(
            "INSERT INTO meta VALUES ('clock', ?) ON CONFLICT (key) DO UPDATE "
            "SET value = excluded.value",
            (value,),
        )
        self._clock_raw = None
        self._meta = None

    def add_fault(
        self,
        kind: str,
        *,
        external_id: str | None = None,
        enterprise_id: str | None = None,
        milliseconds: int | None = None,
        retry_after: int | None = None,
        count: int = 1,
    ) -> None:
        with self.immediate():
            self.db.table("faults").insert(
                {
                    "kind": kind,
                    "external_id": external_id,
                    "enterprise_id": enterprise_id,
                    "milliseconds": milliseconds,
                    "retry_after": retry_after,
                    "remaining": count,
                }
            )
            self._arm_faults()

    def _arm_faults(self) -> None:
        armed = self.conn.execute("SELECT count(*) FROM faults WHERE remaining > 0").fetchone()[0]
        self.conn.execute(
            "INSERT INTO meta VALUES ('faults', ?) ON CONFLICT (key) DO UPDATE "
            "SET value = excluded.value",
            (str(armed),),
        )
        self._faults_armed = armed > 0
        self._meta = None

    @property
    def faults_armed(self) -> bool:
        """Whether any fault may fire (as of `begin_request`): fault layers skip all work if not."""
        return self._faults_armed

    def faults(self, enterprise_id: str | None = None) -> list[Row]:
        if enterprise_id is None:
            return self._all("SELECT * FROM faults WHERE remaining > 0 ORDER BY id")
        return self._all(
            "SELECT * FROM faults WHERE remaining > 0 AND enterprise_id = ? ORDER BY id",
            (enterprise_id,),
        )

    def clear_faults(self, enterprise_id: str | None = None) -> None:
        """Disarm every fault, or only those scoped to `enterprise_id` (a client-test run
        must not disarm another run's faults on a shared sandbox)."""
        with self.immediate():
            if enterprise_id is None:
                self.conn.execute("DELETE FROM faults")
            else:
                self.conn.execute("DELETE FROM faults WHERE enterprise_id = ?", (enterprise_id,))
            self._arm_faults()

    def take_fault(
        self, kind: str, external_id: str | None = None, enterprise_id: str | None = None
    ) -> Row | None:
        """Consume one use of a matching fault, if any is armed. A fault matches when each
        scope it has (externalId, enterprise) equals the request's; unscoped faults match all."""
        if not self._faults_armed:
            return None  # the common case: `begin_request` saw no armed fault, no read at all
        with self.immediate():
            row = self._one(
                "SELECT * FROM faults WHERE kind = ? AND remaining > 0 AND "
                "(external_id IS NULL OR external_id = ?) AND "
                "(enterprise_id IS NULL OR enterprise_id = ?) ORDER BY id LIMIT 1",
                (kind, external_id, enterprise_id),
            )
            if row is not None:
                self.conn.execute(
                    "UPDATE faults SET remaining = remaining - 1 WHERE id = ?", (row["id"],)
                )
                self._arm_faults()
        return row

    def log_request(self, entry: tuple[object, ...]) -> None:
        """Buffer one request-log row (the columns of `LOG_COLUMNS`, in order);
        `flush_request_log` writes them in one transaction (a write per request would cost a
        commit per request)."""
        self._request_log.append(entry)

    def flush_request_log(self) -> None:
        if not self._request_log:
            return
        rows, self._request_log = self._request_log, []
        try:
            with self.immediate():
                self.conn.executemany(_INSERT_LOG, rows)
        except StoreUnavailable:
            # Keep them for the next flush, but never more than the last 10,000 (a debug log).
            self._request_log = (rows + self._request_log)[-10_000:]
            raise

    def is_empty(self) -> bool:
        return (
            self._one("SELECT 1 FROM enterprises LIMIT 1") is None
            and self._one("SELECT 1 FROM partners LIMIT 1") is None
        )
