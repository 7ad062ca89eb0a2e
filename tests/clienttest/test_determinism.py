"""Grading is deterministic and cheap: the same client and plan give the same verdict run after
run, and a plan adds well under a second to the client's own time (slow: real clients, real
delays)."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from oeskit.clienttest import plans
from oeskit.clienttest.control import Sandbox
from oeskit.clienttest.runner import RunConfig, run_plan
from tests.clienttest.test_self_proof import EXAMPLE, MISTAKEN
from tests.conftest import ADMIN, start_server, stop_server

pytestmark = pytest.mark.slow
RUNS = 20


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    live = start_server(tmp_path_factory.mktemp("determinism"))
    client = Sandbox(live.base_url, ADMIN)
    yield client
    client.close()
    stop_server(live)


@pytest.mark.parametrize(
    ("command", "verdict"),
    [
        ([sys.executable, str(EXAMPLE)], ("PASSED", ())),
        (
            [sys.executable, str(MISTAKEN), "--mistake", "ignore-retry-after"],
            ("FAILED", ("OES-CLI-007",)),
        ),
    ],
    ids=["example", "ignore-retry-after"],
)
def test_the_busy_plan_gives_one_verdict_in_twenty_runs(
    sandbox: Sandbox, command: list[str], verdict: tuple[str, tuple[str, ...]]
) -> None:
    """The timing-sensitive plan (busy: Retry-After measured on recorded times) gives the same
    verdict and the same failing rules in 20 runs in a row."""
    (busy,) = plans.by_name(["busy"])
    config = RunConfig(command=tuple(command), plans=(busy,))
    verdicts = set()
    for _ in range(RUNS):
        result = run_plan(sandbox, busy, config).result
        verdicts.add((result.status.value, tuple(sorted({f.rule for f in result.findings}))))
    assert verdicts == {verdict}


def test_each_plan_adds_under_a_second(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """Wall time of a plan minus the client's own run (which includes the designed delays it
    waits out: Retry-After, the slow answer) stays under one second."""
    config = RunConfig(command=(sys.executable, str(EXAMPLE)), plans=plans.PLANS)
    overheads = {}
    for plan in plans.PLANS:
        outcome = run_plan(sandbox, plan, config)
        assert outcome.result.status.value == "PASSED", outcome.result.reason
        overheads[plan.name] = outcome.result.duration_s - outcome.client_s
    with capsys.disabled():
        print(
            "\nclient-test overhead per plan (s):", {k: round(v, 3) for k, v in overheads.items()}
        )
    assert max(overheads.values()) < 1.0, overheads
