"""NUL in text, on PostgreSQL: its TEXT cannot hold U+0000, which SQLite stores and partners may
send (an externalId, notes). Strings go in with NUL written as U+E000 U+E001 and U+E000 itself
as U+E000 U+E000 (a private-use character: two replacements, reversible), and come back
decoded; a string with neither character (all but hostile input) is passed as it is."""

from __future__ import annotations

import re
from typing import Any

import psycopg
from psycopg import adapters
from psycopg.adapt import Dumper, Loader, PyFormat
from psycopg.pq import Format

_ESCAPE = "\ue000"
_ENCODED = re.compile("\ue000(.)", re.DOTALL)
_C_DUMPER: Any = adapters.get_dumper(str, PyFormat.TEXT)
_C_LOADER: Any = adapters.get_loader(25, Format.TEXT)


def encode(text: str) -> str:
    if "\x00" not in text and _ESCAPE not in text:
        return text
    return text.replace(_ESCAPE, _ESCAPE * 2).replace("\x00", _ESCAPE + "\ue001")


def decode(text: str) -> str:
    if _ESCAPE not in text:
        return text
    return _ENCODED.sub(lambda m: "\x00" if m.group(1) == "\ue001" else _ESCAPE, text)


class NulSafeDumper(Dumper):
    """psycopg's own (C) text dumper, after `encode`."""

    def __init__(self, cls: type, context: Any = None) -> None:
        super().__init__(cls, context)
        self._dumper = _C_DUMPER(cls, context)
        self.oid = self._dumper.oid

    def dump(self, obj: Any) -> Any:
        return self._dumper.dump(encode(obj))


class NulSafeLoader(Loader):
    """psycopg's own (C) text loader, then `decode`."""

    def __init__(self, oid: int, context: Any = None) -> None:
        super().__init__(oid, context)
        self._loader = _C_LOADER(oid, context)

    def load(self, data: Any) -> Any:
        return decode(self._loader.load(data))


def register(conn: psycopg.Connection[Any]) -> None:
    """Every str parameter and text result of `conn` goes through encode / decode."""
    conn.adapters.register_dumper(str, NulSafeDumper)
    conn.adapters.register_loader("text", NulSafeLoader)
