"""Dotted paths into JSON values (`settlement.transfers.0.status`, `settlements.*.id`), used by
expectations, saved values and tampering. Pure functions."""

from __future__ import annotations

from typing import Any


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def lookup(data: Any, path: str) -> Any:
    """The value at `path`; `*` maps the rest of the path over a list; MISSING when absent."""
    if not path:
        return data
    head, _, rest = path.partition(".")
    if head == "*":
        if not isinstance(data, list):
            return MISSING
        values = [lookup(item, rest) for item in data]
        return [v for v in values if v is not MISSING]
    if isinstance(data, dict):
        return lookup(data[head], rest) if head in data else MISSING
    if isinstance(data, list) and head.lstrip("-").isdigit():
        index = int(head)
        return lookup(data[index], rest) if -len(data) <= index < len(data) else MISSING
    return MISSING


def set_path(data: Any, path: str, value: Any) -> None:
    """Set `path` in nested dicts, creating mappings on the way."""
    parts = path.split(".")
    node = data
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if isinstance(node, list):
        node[int(parts[-1])] = value
    else:
        node[parts[-1]] = value


def remove_path(data: Any, path: str) -> None:
    parts = path.split(".")
    node = lookup(data, ".".join(parts[:-1]))
    if isinstance(node, dict):
        node.pop(parts[-1], None)
