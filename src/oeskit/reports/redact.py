"""Redaction of secrets in recorded exchanges and report text: bearer tokens, private keys,
signatures and any value the profile declares secret. Applied when an exchange is recorded and
again by every writer, so one forgotten path cannot leak."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

MASK = "***redacted***"
# x-bitgo-signature: the JWT hosted-test sends as BitGo (a replayable credential for its lifetime).
_SECRET_HEADERS = {"authorization", "cookie", "set-cookie", "x-api-key", "x-bitgo-signature"}
# A JWT anywhere in text (a partner may echo the token in an error body).
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{6,}\.eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
# JSON members whose value is secret, in raw text (bodies may be invalid JSON on purpose).
_SECRET_MEMBER = re.compile(
    r'("(?:signature|privateKey|private_key|token|sandboxToken|adminToken)"\s*:\s*)"(?:[^"\\]|\\.)*"'
)
# A `<...>` of words right after `Bearer` is a placeholder in prose ("Bearer <admin token>"),
# not a token: masking its first word alone left "Bearer ***redacted*** token>".
_BEARER = re.compile(r"(Bearer\s+)(?!<[\w -]+>(?:[\s\"',.;:)]|$))[^\s\"',]+")
_PRIVATE_HEX = re.compile(r"(?i)(private[ _-]?key[\"']?\s*[:=]\s*[\"']?)[0-9a-f]{32,}")


class Redactor:
    """Scrubs known secret values and secret-shaped fields from text and headers."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret containing another is removed whole.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def text(self, value: str | None) -> str | None:
        if value is None:
            return None
        for secret in self.secrets:
            value = value.replace(secret, MASK)
        value = _SECRET_MEMBER.sub(lambda m: f'{m.group(1)}"{MASK}"', value)
        value = _PRIVATE_HEX.sub(lambda m: m.group(1) + MASK, value)
        value = _JWT.sub(MASK, value)
        return _BEARER.sub(lambda m: m.group(1) + MASK, value)

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        return {
            name: (MASK if name.lower() in _SECRET_HEADERS else self.text(value) or "")
            for name, value in headers.items()
        }
