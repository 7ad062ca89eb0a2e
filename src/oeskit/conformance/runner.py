"""The conformance runner: select scenarios, seed their worlds, execute their steps, fuzz, and
yield events. It writes nothing; reporters and the progress bar consume the events."""

from __future__ import annotations

import secrets
import shlex
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from oeskit.conformance import contract
from oeskit.conformance.events import (
    Event,
    RunFinished,
    RunStarted,
    RunStopped,
    ScenarioFinished,
    ScenarioStarted,
)
from oeskit.conformance.profile import Profile
from oeskit.conformance.scenario import Scenario, load_scenarios
from oeskit.conformance.steps import StepContext, Unavailable, run_step
from oeskit.conformance.target import Target, TargetError
from oeskit.reports.model import (
    Exchange,
    Finding,
    ScenarioResult,
    Status,
    build_report,
    worst,
)
from oeskit.reports.redact import Redactor

DEFAULT_MAX_EXAMPLES = 10
DEFAULT_WORLD = "demo"


@dataclass(frozen=True, slots=True)
class RunConfig:
    target: str
    profile: Profile
    profile_path: str | None = None
    scenario_ids: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    fuzz: bool = True
    max_examples: int = DEFAULT_MAX_EXAMPLES
    seed: int = 0
    scenarios_dir: Path | None = None
    extra_secrets: tuple[str, ...] = field(default=(), repr=False)


def select(
    scenarios: list[Scenario], ids: tuple[str, ...], tags: tuple[str, ...]
) -> list[Scenario]:
    """Scenarios named by --scenario, or carrying one of the --tag values (all when neither)."""
    if ids:
        unknown = set(ids) - {s.id for s in scenarios}
        if unknown:
            raise ValueError(f"unknown scenario ids: {', '.join(sorted(unknown))}")
    return [
        s for s in scenarios if (not ids and not tags) or s.id in ids or set(tags) & set(s.tags)
    ]


def reproduce_command(config: RunConfig, scenario_id: str) -> str:
    parts = ["oeskit", "conform", "--target", config.target]
    if config.profile_path:
        parts += ["--profile", config.profile_path]
    elif config.profile.sandbox_token:
        parts += ["--sandbox-token", "$OESKIT_SANDBOX_TOKEN"]
    parts += ["--scenario", scenario_id, "--no-fuzz"]
    return " ".join(p if p.startswith("$") else shlex.quote(p) for p in parts)


# Control-plane answers that no later scenario can get past: stop the run at the first one.
_STOPPING = (None, 401, 403, 404, 405)


class StopRun(Exception):
    """Raised by run_scenario when the run cannot go on; `result` is that scenario's verdict."""

    def __init__(self, result: ScenarioResult, reason: str) -> None:
        super().__init__(reason)
        self.result = result
        self.reason = reason


def stop_reason(exc: TargetError) -> str | None:
    """The one line that says why a control-plane refusal stops the run (None: it does not)."""
    if exc.status not in _STOPPING:
        return None
    if exc.status in (401, 403):
        return f"the control plane answered {exc.status}: check --sandbox-token"
    if exc.status in (404, 405):
        return (
            f"the control plane answered {exc.status}: the target serves no oeskit /sandbox/; "
            "against another system use a --profile that declares no sandbox capabilities"
        )
    return f"the control plane did not answer: {exc}"


def run(config: RunConfig) -> Iterator[Event]:
    """Run the selected scenarios (then the fuzz pass) and yield events, ending with RunFinished.

    RunFinished always comes, so the reports are always written: a control plane that refuses
    the run (a wrong --sandbox-token, a target that is no oeskit sandbox) stops it early with
    RunStopped, the scenarios not run are SKIPPED with that reason, and an unexpected error is
    one FAILED result rather than a traceback without a report."""
    started = time.perf_counter()
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    catalogue = contract.catalogue()
    chosen = select(
        load_scenarios(config.scenarios_dir, contract.rule_ids()), config.scenario_ids, config.tags
    )
    secrets_ = config.profile.secrets() + config.extra_secrets
    target = Target(config.target, Redactor(secrets_), config.profile.sandbox_token)
    fuzzing = config.fuzz
    results: list[ScenarioResult] = []
    stopped = ""
    try:
        yield RunStarted(
            config.target, len(chosen) + (len(contract.operations()) if fuzzing else 0), config.seed
        )
        for scenario in chosen:
            if stopped:
                result = _not_run(scenario.id, scenario.title, scenario.rules, stopped)
            else:
                yield ScenarioStarted(scenario.id, scenario.title)
                try:
                    result = run_scenario(scenario, config, target)
                except StopRun as stop:
                    result, stopped = stop.result, stop.reason
            results.append(result)
            yield ScenarioFinished(result)
        if fuzzing and stopped:
            results.append(_not_run("fuzz", "schemathesis fuzz pass", (), stopped, kind="fuzz"))
        elif fuzzing:
            from oeskit.conformance.fuzz import fuzz_target  # schemathesis is slow to import

            yield ScenarioStarted("fuzz", "schemathesis fuzz pass")
            try:
                for result in fuzz_target(
                    config.profile, target, max_examples=config.max_examples, seed=config.seed
                ):
                    results.append(result)
                    yield ScenarioFinished(result)
            except TargetError as exc:
                stopped = stop_reason(exc) or f"the fuzz pass stopped: {exc}"
                results.append(_failed("fuzz", "schemathesis fuzz pass", stopped, kind="fuzz"))
    except Exception as exc:  # whatever broke, the reports are still written, with the cause
        stopped = f"the run stopped on an unexpected error: {type(exc).__name__}: {exc}"
        results.append(_failed("run", "the conformance run itself", stopped))
    finally:
        target.close()
    if stopped:
        yield RunStopped(stopped)
    yield RunFinished(
        build_report(
            config.target,
            stamp,
            time.perf_counter() - started,
            config.seed,
            results,
            catalogue,
            secrets_,
        )
    )


def _not_run(
    id_: str, title: str, rules: tuple[str, ...], reason: str, kind: str = "scenario"
) -> ScenarioResult:
    return ScenarioResult(
        id=id_,
        title=title,
        rules=rules,
        tags=(),
        status=Status.SKIPPED,
        duration_s=0.0,
        reason=f"not run: {reason}",
        kind=kind,
    )


def _failed(id_: str, title: str, reason: str, kind: str = "scenario") -> ScenarioResult:
    finding = Finding(Status.FAILED, None, reason, "the run to complete", reason)
    return ScenarioResult(
        id=id_,
        title=title,
        rules=(),
        tags=(),
        status=Status.FAILED,
        duration_s=0.0,
        reason=reason,
        findings=(finding,),
        kind=kind,
    )


def run_scenario(scenario: Scenario, config: RunConfig, target: Target) -> ScenarioResult:
    started = time.perf_counter()
    missing = scenario.needs() - config.profile.capabilities
    base: dict[str, Any] = dict(
        id=scenario.id,
        title=scenario.title,
        rules=scenario.rules,
        tags=scenario.tags,
        reproduce=reproduce_command(config, scenario.id),
    )
    if missing:
        return ScenarioResult(
            **base,
            status=Status.SKIPPED,
            duration_s=0.0,
            reason="the target does not declare the capabilities " + ", ".join(sorted(missing)),
        )
    findings: list[Finding] = []
    exchanges: list[Exchange] = []
    reason = ""
    try:
        if "worlds" in config.profile.capabilities:
            exchanges.append(target.seed_world(scenario.world or DEFAULT_WORLD, scenario.world_set))
        ctx = StepContext(
            config.profile, target, {**config.profile.variables(), "run": secrets.token_hex(4)}
        )
        for index, step in enumerate(scenario.steps):
            step_findings, exchange = run_step(step, index, ctx)
            findings += step_findings
            if exchange is not None:
                exchanges.append(exchange)
            if any(f.severity is Status.FAILED for f in step_findings):
                break
    except Unavailable as exc:
        return ScenarioResult(
            **base,
            status=Status.SKIPPED,
            duration_s=time.perf_counter() - started,
            reason=str(exc),
            exchanges=tuple(exchanges),
        )
    except TargetError as exc:
        findings.append(
            Finding(Status.FAILED, None, "the target refused a control-plane call", "200", str(exc))
        )
        stop = stop_reason(exc)
        if stop is not None:
            raise StopRun(
                ScenarioResult(
                    **base,
                    status=Status.FAILED,
                    duration_s=time.perf_counter() - started,
                    reason=stop,
                    findings=tuple(findings),
                    exchanges=tuple(exchanges),
                ),
                stop,
            ) from None
    status = worst([f.severity for f in findings]) if findings else Status.PASSED
    if status is Status.FAILED:
        reason = findings[0].message if findings else ""
    return ScenarioResult(
        **base,
        status=status,
        duration_s=time.perf_counter() - started,
        reason=reason,
        findings=tuple(findings),
        exchanges=tuple(exchanges),
    )
