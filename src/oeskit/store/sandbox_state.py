"""Sandbox state kept beside the business tables: the clock, armed faults and the request log."""

from __future__ import annotations

import json

from oeskit.clock import ClockState, parse_instant
from oeskit.errors import StoreBusy
from oeskit.store.connection import Row, SqliteBase
from oeskit.store.connection import dumps as _dumps


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
        milliseconds: int | None = None,
        count: int = 1,
    ) -> None:
        with self.immediate():
            self.db.table("faults").insert(
                {
                    "kind": kind,
                    "external_id": external_id,
                    "milliseconds": milliseconds,
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

    def faults(self) -> list[Row]:
        return self._all("SELECT * FROM faults WHERE remaining > 0 ORDER BY id")

    def clear_faults(self) -> None:
        with self.immediate():
            self.conn.execute("DELETE FROM faults")
            self._arm_faults()

    def take_fault(self, kind: str, external_id: str | None = None) -> Row | None:
        """Consume one use of a matching fault, if any is armed."""
        if not self._faults_armed:
            return None  # the common case: `begin_request` saw no armed fault, no read at all
        with self.immediate():
            row = self._one(
                "SELECT * FROM faults WHERE kind = ? AND remaining > 0 AND "
                "(external_id IS NULL OR external_id = ?) ORDER BY id LIMIT 1",
                (kind, external_id),
            )
            if row is not None:
                self.conn.execute(
                    "UPDATE faults SET remaining = remaining - 1 WHERE id = ?", (row["id"],)
                )
                self._arm_faults()
        return row

    def log_request(
        self, at: str, method: str, path: str, status: int, rule: str | None, duration_ms: float
    ) -> None:
        """Buffer one request-log row; `flush_request_log` writes them in one transaction
        (a write per request would cost a commit per request)."""
        self._request_log.append((at, method, path, status, rule, duration_ms))

    def flush_request_log(self) -> None:
        if not self._request_log:
            return
        rows, self._request_log = self._request_log, []
        try:
            with self.immediate():
                self.conn.executemany(
                    "INSERT INTO request_log (at, method, path, status, rule, duration_ms) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    rows,
                )
        except StoreBusy:
            # Keep them for the next flush, but never more than the last 10,000 (a debug log).
            self._request_log = (rows + self._request_log)[-10_000:]
            raise

    def is_empty(self) -> bool:
        return (
            self._one("SELECT 1 FROM enterprises LIMIT 1") is None
            and self._one("SELECT 1 FROM partners LIMIT 1") is None
        )
