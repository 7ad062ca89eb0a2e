"""Redaction of report text (`reports/redact.py`): secrets go, the words around them stay."""

from __future__ import annotations

import pytest

from oeskit.reports.redact import MASK, Redactor


@pytest.mark.parametrize(
    "text",
    [
        "send 'Authorization: Bearer <admin token>' with the token printed by `oeskit serve`",
        "send a valid access token as 'Authorization: Bearer <token>'",
        "Bearer <token>",
    ],
    ids=["admin-placeholder", "token-placeholder", "bare-placeholder"],
)
def test_a_placeholder_after_bearer_is_left_whole(text: str) -> None:
    """`Bearer <admin token>` names a placeholder, not a secret: the text is unchanged (it used
    to become `Bearer ***redacted*** token>`)."""
    assert Redactor().text(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer demo-exchange-token", f"Authorization: Bearer {MASK}"),
        ("'Bearer abc.def~+/=='", f"'Bearer {MASK}'"),
        ("Bearer <script>x</script>", f"Bearer {MASK}"),
        ("Bearer <x>tail", f"Bearer {MASK}"),
    ],
    ids=["plain", "token68", "markup-is-not-a-placeholder", "text-glued-to-brackets"],
)
def test_a_real_bearer_token_is_masked(text: str, expected: str) -> None:
    """Any other value after `Bearer` is masked whole, even one that starts with `<`."""
    assert Redactor().text(text) == expected
