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
import struct
import threading
import time

_lock = threading.Lock()
_last_ms = 0
_counter = 0
_VARIANT = 0x8000000000000000
_RANDOM = 0x3FFFFFFFFFFFFFFF


def new_ids(count: int) -> list[str]:
    """`count` fresh, increasing version-7 UUID strings (one urandom call for all of them)."""
    global _last_ms, _counter
    random = os.urandom(8 * count + 2)
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms > _last_ms:
            _last_ms = ms
            _counter = int.from_bytes(random[-2:], "big") & 0x7FF
        ms, counter = _last_ms, _counter
        out = []
        for (bits,) in struct.iter_unpack(">Q", random[: 8 * count]):
            counter += 1
            if counter > 0xFFF:
                ms += 1
                counter = 0
            # 48 bits of time | version 7 | 12-bit counter | variant 10 | 62 random bits
            h = f"{ms << 80 | (0x7000 | counter) << 64 | _VARIANT | bits & _RANDOM:032x}"
            out.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
        _last_ms, _counter = ms, counter
    return out


def new_id() -> str:
    return new_ids(1)[0]
