"""The hosted-test runner: run the scenarios in order against a partner's base URL as BitGo,
then grade every response the partner gave against partner-hosted.yaml (one result per
operation), and yield conform's events ending with the report. It writes nothing."""

from __future__ import annotations

import shlex
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from oeskit.conformance.events import (
    Event,
    RunFinished,
    RunStarted,
    ScenarioFinished,
    ScenarioStarted,
)
from oeskit.conformance.target import Target
from oeskit.hostedtest import (
    contract,
    rules,
    scenarios_connections,
    scenarios_lifecycle,
    scenarios_records,
    scenarios_signature,
)
from oeskit.hostedtest.bitgo import Answer, BitGo
from oeskit.hostedtest.profile import HostedProfile, Tokens
from oeskit.hostedtest.scenario import Context, RunState, Scenario, Unobservable
from oeskit.reports.model import Finding, ScenarioResult, Status, build_report, worst
from oeskit.reports.redact import Redactor

SUITE = "oeskit hosted-test"
# Scenarios others rely on: the shared connection, and the free balance as an observation.
PREREQUISITES = (
    "connection-created",
    "allocation-cleared-credits",
    "deallocation-beyond-free-balance",
)
_FINDINGS_PER_OPERATION = 5


def all_scenarios() -> tuple[Scenario, ...]:
    """Every scenario, in the order they run (prerequisites first)."""
    return (
        scenarios_connections.SCENARIOS[:1]
        + scenarios_signature.SCENARIOS
        + scenarios_connections.SCENARIOS[1:]
        + scenarios_records.SCENARIOS
        + scenarios_lifecycle.SCENARIOS
    )


@dataclass(frozen=True, slots=True)
class RunConfig:
    target: str
    private_pem: str = field(repr=False)
    profile: HostedProfile
    key_path: str = "bitgo-private.pem"
    profile_path: str | None = None
    scenario_ids: tuple[str, ...] = ()
    timeout_s: float = 10.0


def select(ids: tuple[str, ...]) -> list[Scenario]:
    """The scenarios named (with the prerequisites they may rely on), or all of them."""
    every = all_scenarios()
    unknown = set(ids) - {s.id for s in every}
    if unknown:
        raise ValueError(f"unknown scenario ids: {', '.join(sorted(unknown))}")
    return [s for s in every if not ids or s.id in ids or s.id in PREREQUISITES]


def reproduce_command(config: RunConfig, scenario_id: str) -> str:
    parts = ["oeskit", "hosted-test", "--target", config.target, "--bitgo-key", config.key_path]
    if config.profile_path:
        parts += ["--profile", config.profile_path]
    return " ".join(map(shlex.quote, [*parts, "--scenario", scenario_id]))


def run(config: RunConfig) -> Iterator[Event]:
    started = time.perf_counter()
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    chosen = select(config.scenario_ids)
    secrets_ = (config.private_pem, *config.profile.secrets())
    target = Target(config.target, Redactor(secrets_), timeout=config.timeout_s)
    bitgo = BitGo(target, config.private_pem)
    state = RunState(Tokens(config.profile.connection_tokens))
    results: list[ScenarioResult] = []
    try:
        yield RunStarted(config.target, len(chosen) + len(contract.operations()), 0)
        for one in chosen:
            yield ScenarioStarted(one.id, one.title)
            results.append(run_scenario(one, config, bitgo, state))
            yield ScenarioFinished(results[-1])
        for op in contract.operations():
            yield ScenarioStarted(f"responses:{op.id}", f"responses of {op.id}")
            results.append(responses_result(op.id, bitgo.answers))
            yield ScenarioFinished(results[-1])
    finally:
        target.close()
    yield RunFinished(
        build_report(
            config.target,
            stamp,
            time.perf_counter() - started,
            0,
            results,
            contract.catalogue(),
            secrets_,
            suite=SUITE,
        )
    )


def run_scenario(one: Scenario, config: RunConfig, bitgo: BitGo, state: RunState) -> ScenarioResult:
    started = time.perf_counter()
    skipped = ScenarioResult(
        id=one.id,
        title=one.title,
        rules=one.rules,
        tags=one.tags,
        status=Status.SKIPPED,
        duration_s=0.0,
        reproduce=reproduce_command(config, one.id),
    )
    missing = sorted(one.needs - config.profile.capabilities)
    if missing:
        meaning = contract.capabilities()
        return replace(
            skipped,
            reason="the profile does not declare the capability "
            + ", ".join(f"{m} ({meaning.get(m, '')})" for m in missing),
        )
    ctx = Context(bitgo, config.profile, state)
    unobservable = ""
    try:
        one.body(ctx)
    except Unobservable as exc:
        unobservable = str(exc)
    findings = tuple(ctx.findings)
    if findings:
        status, reason = worst([f.severity for f in findings]), findings[0].message
    elif unobservable:
        status, reason = Status.SKIPPED, unobservable
    else:
        status, reason = Status.PASSED, ""
    return replace(
        skipped,
        status=status,
        duration_s=time.perf_counter() - started,
        reason=reason,
        findings=findings,
        exchanges=tuple(ctx.exchanges),
    )


def responses_result(operation: str, answers: list[Answer]) -> ScenarioResult:
    """One result per operation: every answer it gave matches partner-hosted.yaml."""
    mine = [a for a in answers if a.operation == operation]
    skipped = ScenarioResult(
        id=f"responses:{operation}",
        title=f"Every answer of {operation} matches partner-hosted.yaml",
        rules=(rules.RESPONSES,),
        tags=("responses",),
        status=Status.SKIPPED,
        duration_s=0.0,
        reason=f"no scenario that ran called {operation}",
        kind="responses",
    )
    if not mine:
        return skipped
    findings = [
        Finding(
            Status.FAILED,
            rules.RESPONSES,
            f"{a.status} answer does not match partner-hosted.yaml",
            "the documented status and schema",
            problem,
            a.exchange.step,
            a.exchange,
        )
        for a in mine
        for problem in a.problems
    ]
    shown = tuple(findings[:_FINDINGS_PER_OPERATION])
    return replace(
        skipped,
        status=Status.FAILED if findings else Status.PASSED,
        reason=findings[0].actual if findings else f"{len(mine)} answers checked",
        findings=shown,
        exchanges=tuple(f.exchange for f in shown if f.exchange is not None),
    )
