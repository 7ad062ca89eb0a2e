"""What `oeskit diff` finds: one classed change, and the collector the comparers append to.

Classes follow oasdiff's published breaking-change checks (ERR -> breaking, WARN -> warning,
INFO -> non-breaking); the check ids are ours and stable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Class = Literal["breaking", "warning", "non-breaking"]
CLASSES: tuple[Class, ...] = ("breaking", "warning", "non-breaking")


@dataclass(frozen=True, slots=True)
class Change:
    klass: Class
    check: str  # stable id of the check that found it, e.g. request-required-property-added
    path: str  # JSON pointer in the document (through resolved $refs)
    message: str  # why it is classed so
    operation: str = ""  # "POST /path" when the change is inside an operation


@dataclass(slots=True)
class Changes:
    """The changes found so far, in discovery order; `operation` labels what is appended."""

    items: list[Change] = field(default_factory=list)
    operation: str = ""

    def add(self, klass: Class, check: str, path: str, message: str) -> None:
        self.items.append(Change(klass, check, path, message, self.operation))

    def count(self, klass: Class) -> int:
        return sum(1 for change in self.items if change.klass == klass)
