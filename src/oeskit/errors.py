"""The small tree of errors oeskit raises. Nothing here knows about HTTP.

    OeskitError
     ├── RuleViolation      a request broke a catalogued rule (the rule id picks the status)
     │    └── BalanceShortfall   OES-BAL-001, carries connection, currency, required, available
     ├── StoreBusy          the database stayed locked past the busy timeout (answered 503)
     ├── ConfigError        settings or a world file cannot be used
     └── NamespaceLimit     the server already holds `--max-namespaces` namespaces

The HTTP layer maps a RuleViolation to a status through the rules catalogue in the contract
(`x-oeskit-rules`), in one place: `oeskit.http.errors`.
"""

from __future__ import annotations

from collections.abc import Mapping


class OeskitError(Exception):
    """Base of every error oeskit raises on purpose."""


class RuleViolation(OeskitError):
    """A request broke the rule `rule`; `message` tells the caller what to fix."""

    def __init__(self, rule: str, message: str, extra: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.extra: dict[str, str] = dict(extra or {})

    def body(self) -> dict[str, str]:
        return {"error": self.message, "rule": self.rule, **self.extra}


class StoreBusy(OeskitError):
    """The database stayed locked for longer than the busy timeout."""


class ConfigError(OeskitError):
    """Settings, a world or a key file cannot be used as given."""


class NamespaceLimit(OeskitError):
    """Creating one more namespace would pass the server's limit (`--max-namespaces`)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the server already holds its limit of {limit} namespaces")
        self.limit = limit
