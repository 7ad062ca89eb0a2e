"""NUL and the escape character survive PostgreSQL's TEXT: encode/decode round-trip any string,
and an encoded string holds no NUL."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from oeskit.store.postgres.text import decode, encode

# Strings rich in the characters the encoding is about.
TRICKY = st.text(alphabet=st.sampled_from(["\x00", "\ue000", "\ue001", "a", "é", "\\"]))


@given(st.one_of(st.text(), TRICKY))
def test_round_trip(text: str) -> None:
    """decode(encode(s)) == s, and encode(s) never contains NUL."""
    encoded = encode(text)
    assert "\x00" not in encoded
    assert decode(encoded) == text


def test_ordinary_strings_pass_unchanged() -> None:
    """A string with neither NUL nor U+E000 is the same object both ways (no cost)."""
    text = "externalId-42"
    assert encode(text) is text and decode(text) is text
