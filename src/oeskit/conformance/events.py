"""The events the conformance runner yields, in order: RunStarted, then ScenarioStarted and
ScenarioFinished per scenario, RunStopped when the run ended early (the target refused what the
run needs), then always RunFinished with the report. The progress bar and the CLI consume
them."""

from __future__ import annotations

from dataclasses import dataclass

from oeskit.reports.model import Report, ScenarioResult


@dataclass(frozen=True, slots=True)
class RunStarted:
    target: str
    total: int
    seed: int


@dataclass(frozen=True, slots=True)
class ScenarioStarted:
    id: str
    title: str


@dataclass(frozen=True, slots=True)
class ScenarioFinished:
    result: ScenarioResult


@dataclass(frozen=True, slots=True)
class RunStopped:
    """The run stopped early; `reason` is the one line that says why and what to check."""

    reason: str


@dataclass(frozen=True, slots=True)
class RunFinished:
    report: Report


Event = RunStarted | ScenarioStarted | ScenarioFinished | RunStopped | RunFinished
