"""Writing `oeskit diff` results as text (terminal), Markdown (a pull-request comment) or JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence

from oeskit.publish.changes import CLASSES, Change
from oeskit.publish.documents import pointer

_ORDER = {klass: index for index, klass in enumerate(CLASSES)}


def summary(changes: Sequence[Change]) -> dict[str, int]:
    return {klass: sum(1 for c in changes if c.klass == klass) for klass in CLASSES}


def _sorted(changes: Sequence[Change]) -> list[Change]:
    # Breaking first, then in discovery order (stable sort keeps it).
    return sorted(changes, key=lambda change: _ORDER[change.klass])


def _headline(changes: Sequence[Change]) -> str:
    counts = summary(changes)
    return ", ".join(f"{counts[k]} {k}" for k in CLASSES)


def _local(change: Change) -> str:
    """The path below the operation when there is one (the operation is shown beside it)."""
    if not change.operation:
        return change.path
    method, _, path = change.operation.partition(" ")
    prefix = pointer("paths", path, method.lower())
    return change.path.removeprefix(prefix).lstrip("/") or "(operation)"


def text(changes: Sequence[Change], old: str, new: str) -> str:
    lines = [f"{old} -> {new}: {_headline(changes)}"]
    for change in _sorted(changes):
        where = f" ({change.operation})" if change.operation else ""
        lines.append(f"{change.klass:<12} {change.check}{where}")
        lines.append(f"    {_local(change)}")
        lines.append(f"    {change.message}")
    return "\n".join(lines) + "\n"


def markdown(changes: Sequence[Change], old: str, new: str) -> str:
    counts = summary(changes)
    verdict = "breaks partners" if counts["breaking"] else "no breaking change"
    lines = [
        f"### Contract diff: {verdict}",
        "",
        f"`{_cell(old)}` → `{_cell(new)}`: {_headline(changes)}.",
    ]
    if changes:
        lines += ["", "| class | check | where | why |", "|---|---|---|---|"]
        for change in _sorted(changes):
            where = f"`{_cell(_local(change))}`"
            if change.operation:
                where = f"{_cell(change.operation)}<br>{where}"
            lines.append(
                f"| **{change.klass}** | `{change.check}` | {where} | {_cell(change.message)} |"
            )
    return "\n".join(lines) + "\n"


def as_json(changes: Sequence[Change], old: str, new: str) -> str:
    document = {
        "old": old,
        "new": new,
        "summary": summary(changes),
        "changes": [
            {
                "class": c.klass,
                "check": c.check,
                "path": c.path,
                "operation": c.operation or None,
                "message": c.message,
            }
            for c in _sorted(changes)
        ],
    }
    return json.dumps(document, indent=2) + "\n"


def _cell(value: str) -> str:
    """Text safe inside a Markdown table cell and inline code."""
    return value.replace("|", "\\|").replace("`", "'").replace("\n", " ")
