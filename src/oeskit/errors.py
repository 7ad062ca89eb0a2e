"""The small tree of errors oeskit raises. Nothing here knows about HTTP.

    OeskitError
     ├── RuleViolation      a request broke a catalogued rule (the rule id picks the status)
     │    └── BalanceShortfall   OES-BAL-001, carries connection, currency, required, available
     ├── StoreUnavailable   the database cannot take a write now (each answered 503, own rule)
     │    ├── StoreBusy          locked by another writer past the busy timeout
     │    ├── StoreUnwritable    the disk is full or the file is read-only
     │    └── StoreGone          the file was deleted or replaced while the server runs
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


class StoreUnavailable(OeskitError):
    """The database cannot take a write now; nothing of the write was kept."""


class StoreBusy(StoreUnavailable):
    """The database stayed locked for longer than the busy timeout."""


class StoreUnwritable(StoreUnavailable):
    """The disk holding the database is full, or the file is read-only; `str()` says which."""


class StoreGone(StoreUnavailable):
    """The database file was deleted or replaced under the running server: what it would write
    now could not be found again after a restart, so nothing is written until then."""


class ConfigError(OeskitError):
    """Settings, a world or a key file cannot be used as given."""


class NamespaceLimit(OeskitError):
    """Creating one more namespace would pass the server's limit (`--max-namespaces`)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the server already holds its limit of {limit} namespaces")
        self.limit = limit
