"""Grading is deterministic and cheap: the same client and plan give the same verdict run after
run, and a plan adds well under a second to the client's own time (slow: real clients, real
delays).

The twenty runs go ten at a time (each plan has a partner of its own, so they cannot meet): the
verdict must not depend on what else the sandbox is doing, and the suite does not wait out
twenty Retry-After delays one after another (ten at a time: two waits, not five)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from oeskit.clienttest import plans
from oeskit.clienttest.control import Sandbox
from oeskit.clienttest.runner import RunConfig, run_plan
from tests.clienttest.test_self_proof import EXAMPLE, MISTAKEN
from tests.conftest import ADMIN, start_server, stop_server

pytestmark = pytest.mark.slow
RUNS = 20
AT_ONCE = 10


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

    def one_run(_: int) -> tuple[str, tuple[str, ...]]:
        result = run_plan(sandbox, busy, config).result
        return result.status.value, tuple(sorted({f.rule for f in result.findings}))

    with ThreadPoolExecutor(AT_ONCE) as pool:
        verdicts = set(pool.map(one_run, range(RUNS)))
    assert verdicts == {verdict}


def test_each_plan_adds_under_a_second(sandbox: Sandbox) -> None:
    """Wall time of a plan minus the client's own run (which includes the designed delays it
    waits out: Retry-After, the slow answer, held 1 s here) stays under one second."""
    config = RunConfig(command=(sys.executable, str(EXAMPLE)), plans=plans.PLANS, slow_seconds=1.0)
    overheads = {}
    for plan in plans.PLANS:
        outcome = run_plan(sandbox, plan, config)
        assert outcome.result.status.value == "PASSED", outcome.result.reason
        overheads[plan.name] = outcome.result.duration_s - outcome.client_s
    # The figures are in the assertion's message, not printed among the test dots.
    assert max(overheads.values()) < 1.0, {k: round(v, 3) for k, v in overheads.items()}
