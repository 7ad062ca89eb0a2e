"""Running the plans: for each, a partner world of its own, the plan's faults armed, the
partner's COMMAND run once with the OES_* environment (or a person's client, in --wait mode),
then the recorded traffic graded into a ScenarioResult; the results become conform's Report."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO

from oeskit import signing, spec
from oeskit.clienttest import grading
from oeskit.clienttest.control import Sandbox
from oeskit.clienttest.plans import DEFAULT_SLOW_SECONDS, Plan
from oeskit.clienttest.world import RunWorld, new_run_world, task
from oeskit.reports.model import Report, ScenarioResult, Status, build_report
from oeskit.settings import child_environment

OUTPUT_TAIL = 2000  # characters of the client's output kept in a failed result


@dataclass(frozen=True, slots=True)
class RunConfig:
    command: tuple[str, ...]
    plans: tuple[Plan, ...]
    timeout_s: float = 60.0
    slow_seconds: float = DEFAULT_SLOW_SECONDS
    public_key: signing.SigningKey | None = field(default=None, repr=False)
    wait: bool = False  # interactive: a person runs the client; grade when it goes idle
    idle_s: float = 5.0
    settle_s: float = 0.0  # wait for other workers to write their request logs (--target)


@dataclass(frozen=True, slots=True)
class PlanRun:
    """One plan's verdict plus how long the client itself ran (for the overhead figure)."""

    result: ScenarioResult
    client_s: float
    secrets: tuple[str, ...] = field(default=(), repr=False)


# Called with the run's environment before the client starts, then with the request count while
# --wait mode waits; the CLI prints them.
Announce = Callable[[Plan, dict[str, str]], None]
Progress = Callable[[int], None]


def environment(
    base_url: str, world: RunWorld, plan: Plan, the_task: dict[str, object]
) -> dict[str, str]:
    env = {
        "OES_BASE_URL": base_url,
        "OES_ENTERPRISE_ID": world.enterprise_id,
        "OES_ACCESS_TOKEN": world.token,
        "OES_SIGNING_SCHEME": world.key.scheme,
        "OES_TASK": json.dumps(the_task),
        "OES_PLAN": plan.name,
    }
    if world.key.private_key:
        env["OES_PRIVATE_KEY"] = world.key.private_key
    return env


def run_plan(
    sandbox: Sandbox,
    plan: Plan,
    config: RunConfig,
    announce: Announce | None = None,
    progress: Progress | None = None,
) -> PlanRun:
    started = time.perf_counter()
    if config.public_key is not None and config.public_key.scheme != plan.scheme:
        result = ScenarioResult(
            plan.name,
            plan.title,
            plan.rules,
            ("client-test",),
            Status.SKIPPED,
            0.0,
            reason=f"needs a {plan.scheme} key; --public-key is {config.public_key.scheme}",
            kind="client-plan",
        )
        return PlanRun(result, 0.0)
    key = config.public_key or signing.generate(plan.scheme)
    world = new_run_world(key)
    the_task = task(world, plan.name, exceed=plan.exceed_balance)
    sandbox.merge(world)
    for fault in plan.faults:
        sandbox.arm(fault.request(world.enterprise_id, config.slow_seconds))
    env = environment(sandbox.base_url, world, plan, the_task)
    if announce is not None:
        announce(plan, env)
    client_started = time.perf_counter()
    if config.wait:
        exit_code, timed_out, output = None, False, ""
        _wait_idle(sandbox, world, config, progress)
    else:
        exit_code, timed_out, output = _run_command(config.command, env, config.timeout_s)
    client_s = time.perf_counter() - client_started
    if any(f.kind == "hold" for f in plan.faults) and not sandbox.armed(world.enterprise_id):
        # The held answer is logged when it is sent, maybe after the client moved on.
        sandbox.wait_logged(world.enterprise_id, "hold", config.slow_seconds + 2)
    if config.settle_s:
        time.sleep(config.settle_s)
    observed = grading.Observed(
        plan,
        world,
        the_task,
        tuple(sandbox.requests(world.enterprise_id)),
        tuple(sandbox.settlements(world)),
        exit_code,
        timed_out,
        config.timeout_s,
    )
    sandbox.disarm(world.enterprise_id)
    findings, exchanges = grading.grade(observed)
    failed = bool(findings)
    reason = ""
    if failed:
        named = "; ".join(f"{f.rule}: {f.message}" for f in findings[:3])
        reason = f"{named}. A correct client would {plan.correct}."
        if output:
            reason += f" Client output (tail): {output[-OUTPUT_TAIL:]}"
    result = ScenarioResult(
        plan.name,
        plan.title,
        tuple(sorted({str(f.rule) for f in findings})) if failed else plan.rules,
        ("client-test", plan.scheme),
        Status.FAILED if failed else Status.PASSED,
        time.perf_counter() - started,
        reason=reason,
        findings=tuple(findings),
        exchanges=tuple(exchanges) if failed else (),
        reproduce=f"oeskit client-test --plan {plan.name} -- {' '.join(config.command)}",
        kind="client-plan",
    )
    secrets = (world.token, *([key.private_key] if key.private_key else []))
    return PlanRun(result, client_s, secrets)


def run(
    sandbox: Sandbox,
    config: RunConfig,
    target: str,
    announce: Announce | None = None,
    progress: Progress | None = None,
    on_result: Callable[[ScenarioResult], None] | None = None,
) -> Report:
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    started = time.perf_counter()
    results: list[ScenarioResult] = []
    secrets: list[str] = []
    for plan in config.plans:
        outcome = run_plan(sandbox, plan, config, announce, progress)
        results.append(outcome.result)
        secrets += outcome.secrets
        if on_result is not None:
            on_result(outcome.result)
    return build_report(
        target,
        started_at,
        time.perf_counter() - started,
        0,
        results,
        client_rules(),
        tuple(secrets),
        suite="oeskit client-test",
    )


def client_rules() -> list[dict[str, object]]:
    """The client rules catalogue (`x-oeskit-client-rules` of openapi.yaml)."""
    return list(spec.contract().get("x-oeskit-client-rules", []))


def _run_command(
    command: tuple[str, ...], env: dict[str, str], timeout_s: float
) -> tuple[int | None, bool, str]:
    """Run COMMAND in a session of its own; past the timeout its whole process group is killed.
    Returns (exit status, timed out, the tail of its output)."""
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(  # noqa: S603 - running the partner's own command is the point
            list(command),
            env=child_environment(env),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        timed_out = False
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:  # also on Ctrl-C; and whatever it left running in the background goes too
            _kill_group(process.pid)
        code = process.wait()
        return (None if timed_out else code), timed_out, _tail(output)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _tail(output: IO[bytes]) -> str:
    output.seek(0, os.SEEK_END)
    size = output.tell()
    output.seek(max(0, size - OUTPUT_TAIL))
    return output.read().decode("utf-8", "replace")


def _wait_idle(
    sandbox: Sandbox, world: RunWorld, config: RunConfig, progress: Progress | None
) -> None:
    """--wait mode: return once requests arrived and none came for `idle_s`, or on Ctrl-C."""
    seen, last_change = 0, time.monotonic()
    try:
        while True:
            count = len(sandbox.requests(world.enterprise_id))
            if count != seen:
                seen, last_change = count, time.monotonic()
            if progress is not None:
                progress(count)
            if seen and time.monotonic() - last_change >= config.idle_s:
                return
            time.sleep(0.5)
    except KeyboardInterrupt:
        return
