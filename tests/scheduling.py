"""A pytest plugin of this suite (loaded by tests/conftest.py): the order tests are handed to
pytest-xdist workers in.

`make test` runs `pytest -n 2 --dist loadgroup`: every test is a unit of its own, given to
whichever worker is free, except those marked `xdist_group(name)`, which one worker runs
together (they share something costly that is built once per worker: the installed wheel).
Tests marked `slow` are collected first, so the long ones start at once on both workers and the
many short ones fill the gaps at the end instead of one worker finishing a long test alone.
A new test that starts its own server on a free port (oeskit.testing.server) needs nothing
from here.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # sort is stable: within each half the files keep their order.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
