"""`make test` prints dots and verdicts only: no test writes past pytest's capture, and the
progress column reaches `[100%]` even when a test adds subtests to the count as it runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
# A test that counts subtests into the session as it runs, as schemathesis's lazy schemas do.
COUNTING = """
def test_adds_subtests(request):
    request.session.testscollected += 3

def test_after():
    pass
"""


def test_no_test_prints_past_the_capture() -> None:
    """No test file turns capture off to print (a figure belongs in an assertion's message or a
    report, not among the dots)."""
    offenders = [
        str(path.relative_to(TESTS))
        for path in TESTS.rglob("*.py")
        if path != Path(__file__)
        and re.search(r"capsys\.disabled|capfd\.disabled", path.read_text())
    ]
    assert offenders == []


@pytest.mark.parametrize(("plugin", "last"), [((), "[ 40%]"), (("-p", "tests.progress"), "[100%]")])
def test_progress_ends_at_100_percent_with_counted_subtests(
    pytester: pytest.Pytester,
    plugin: tuple[str, ...],
    last: str,
) -> None:
    """Without the suite's progress plugin the run ends at 40 % (2 of 5); with it, at 100 %."""
    pytester.makepyfile(test_counting=COUNTING)
    result = pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider", "-p", "no:xdist", *plugin)
    assert result.ret == 0
    dots = [line for line in result.outlines if line.startswith("..")]
    assert dots and dots[-1].rstrip().endswith(last), result.outlines
