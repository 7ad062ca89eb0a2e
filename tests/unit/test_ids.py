"""oeskit.ids: RFC 9562 version-7 UUIDs, increasing within the process (so new rows append to
the right-most leaf of each index), unique, and valid for the contract's `format: uuid`."""

from __future__ import annotations

import time
import uuid

from oeskit import ids


def test_ids_are_version_7_rfc_uuids_carrying_the_current_millisecond() -> None:
    before = time.time_ns() // 1_000_000
    made = [*ids.new_ids(3), ids.new_id()]
    for text in made:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 7
        assert parsed.variant == uuid.RFC_4122
        assert before <= parsed.int >> 80 <= time.time_ns() // 1_000_000 + 1000


def test_ids_increase_and_never_repeat_across_calls_and_counter_overflow() -> None:
    # 10,000 in one call overflows the 12-bit counter twice: time carries, order holds.
    made = ids.new_ids(10_000) + ids.new_ids(5) + [ids.new_id() for _ in range(100)]
    assert made == sorted(made)
    assert len(set(made)) == len(made)
    assert len({uuid.UUID(x).int & ((1 << 62) - 1) for x in made}) == len(made)  # random part
