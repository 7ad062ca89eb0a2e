"""Time for the sandbox: wall time, frozen, set, advanced or sped up.

The state of the clock is plain data (`ClockState`) so it can live in the database and be shared
by every worker process; `ClockState.now(real)` turns a real instant into sandbox time. Domain
code never reads a clock: it is handed `now`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

MODES = ("wall", "frozen", "speed")


class Clock(Protocol):
    def now(self) -> datetime: ...


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_instant(text: str) -> datetime:
    """Parse an RFC 3339 date-time with an offset (a trailing Z is accepted)."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone offset")
    return value.astimezone(UTC)


@functools.lru_cache(maxsize=256)  # one staging formats the same `now` about ten times
def format_instant(value: datetime) -> str:
    """The `toISOString()` form partners see: milliseconds and a Z."""
    # isoformat is ~4x faster than strftime, and this runs a dozen times per staging.
    return value.astimezone(UTC).isoformat(timespec="milliseconds")[:23] + "Z"


@dataclass(frozen=True, slots=True)
class ClockState:
    """Sandbox time = `anchor_virtual + (real - anchor_real) * rate`, rate 0 (frozen), 1 or N."""

    mode: str = "wall"
    speed: float = 1.0
    anchor_real: datetime | None = None
    anchor_virtual: datetime | None = None

    def now(self, real: datetime) -> datetime:
        if self.anchor_real is None or self.anchor_virtual is None:
            return real
        rate = {"wall": 1.0, "frozen": 0.0, "speed": self.speed}[self.mode]
        return self.anchor_virtual + (real - self.anchor_real) * rate

    def set(
        self,
        real: datetime,
        *,
        now: datetime | None = None,
        mode: str | None = None,
        speed: float | None = None,
        advance: timedelta | None = None,
    ) -> ClockState:
        """A new state: time jumps to `now` (or by `advance`), then runs in `mode` at `speed`."""
        current = self.now(real)
        target = now if now is not None else current
        if advance is not None:
            target = target + advance
        new_mode = mode or self.mode
        if new_mode not in MODES:
            raise ValueError(f"clock mode must be one of {', '.join(MODES)}")
        return replace(
            self,
            mode=new_mode,
            speed=speed if speed is not None else self.speed,
            anchor_real=real,
            anchor_virtual=target,
        )

    @classmethod
    def from_option(cls, option: str, real: datetime, start: datetime | None = None) -> ClockState:
        """Parse the `--clock wall|frozen|speed=N` option."""
        if option.startswith("speed="):
            speed = float(option.split("=", 1)[1])
            if speed <= 0:
                raise ValueError("--clock speed=N needs N > 0")
            return cls(mode="speed", speed=speed, anchor_real=real, anchor_virtual=start or real)
        if option not in ("wall", "frozen"):
            raise ValueError("--clock must be wall, frozen or speed=N")
        return cls(mode=option, anchor_real=real, anchor_virtual=start or real)
