"""A pytest plugin of this suite (loaded by tests/conftest.py): the order tests are handed to
pytest-xdist workers in, and which ones one worker runs together.

`make test` runs `pytest -n 3 --dist loadgroup`: every test is a unit of its own, given to
whichever worker is free, except those marked `xdist_group(name)`, which one worker runs
together (they share something costly built once per worker: the installed wheel, one conform
run). Tests marked `slow` are collected first, so the long ones start at once on every worker
and the many short ones fill the gaps at the end instead of one worker finishing a long test
alone. A new test that starts its own server on a free port (oeskit.testing.server) needs
nothing from here.
"""

from __future__ import annotations

import pytest

try:  # pytest >= 9.1 keeps a structured node id
    from _pytest.nodeid import NodeId
except ImportError:  # pragma: no cover - older pytest: xdist's own suffix works there
    NodeId = None  # type: ignore[assignment,misc]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # sort is stable: within each half the files keep their order.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
    if getattr(config.option, "loadgroup", False) and NodeId is not None:
        for item in items:
            _group(item)


def _group(item: pytest.Item) -> None:
    """Give a grouped test the `@<group>` suffix xdist's loadgroup scheduler reads. xdist 3.8
    writes it to `item._nodeid`, which pytest 9.1+ no longer reads (the id is `item._id`), so
    without this every grouped test was scheduled alone (both workers built the wheel)."""
    names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                    for m in item.iter_markers("xdist_group")})  # fmt: skip
    if names and "@" not in item.nodeid:
        item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(names)}")
