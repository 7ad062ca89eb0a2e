"""Identifiers the sandbox creates: UUID version 7 (RFC 9562), time-ordered.

Settlement, transfer, job, dispute and closure ids are primary keys. Random (version 4) keys
land on a random leaf of each index, so every staging dirtied a handful of pages all over the
file, and each of those pages was written to the WAL again at the next commit. Version-7 keys
start with the millisecond and a counter, so new rows go to the right-most leaf, which the next
staging dirties again (the group commit then writes it once). Measured with wrk at 32
connections: ~6-10 % less server CPU per staging and a lower p99 (see CHANGELOG 0.3).

Layout: 48-bit Unix milliseconds, version 7, a 12-bit counter that orders ids made in the same
millisecond by this process (RFC 9562 §6.2, method 1; it starts at a random value below 2048
each millisecond and carries into the timestamp on overflow), the variant, 62 random bits.
Still a plain UUID to the contract (`format: uuid`); ids are opaque to partners.
"""

from __future__ import annotations

import os
import threading
import time

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def new_ids(count: int) -> list[str]:
    """`count` fresh, increasing version-7 UUID strings (one urandom call for all of them)."""
    global _last_ms, _counter
    random = os.urandom(8 * count + 2).hex()
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms > _last_ms:
            _last_ms = ms
            _counter = int(random[-4:], 16) & 0x7FF
        ms, counter = _last_ms, _counter
        out = []
        for i in range(count):
            counter += 1
            if counter > 0xFFF:
                ms += 1
                counter = 0
            r = random[16 * i : 16 * i + 16]
            t = f"{ms:012x}"
            out.append(
                f"{t[:8]}-{t[8:]}-7{counter:03x}-{'89ab'[int(r[0], 16) & 3]}{r[1:4]}-{r[4:]}"
            )
        _last_ms, _counter = ms, counter
    return out


def new_id() -> str:
    return new_ids(1)[0]
