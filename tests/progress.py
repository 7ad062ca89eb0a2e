"""A pytest plugin of this suite (loaded by tests/conftest.py): the progress column ends at
`[100%]` however many subtests ran."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Keep pytest's count of collected tests as collected. schemathesis's lazy schemas add one
    per operation while their test runs (its subtests are not tests of the count), so a serial
    run's progress ended at `[ 97%]` instead of `[100%]`."""
    collected = item.session.testscollected
    try:
        return (yield)
    finally:
        item.session.testscollected = collected
