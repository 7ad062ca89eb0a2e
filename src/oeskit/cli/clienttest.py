"""`oeskit client-test`: grade a partner's own client. Runs COMMAND once per plan against a
sandbox (its own, or --target), prints a verdict per plan, writes conform's four report formats,
and exits 0 (nothing FAILED), 1 (something FAILED) or 2 (usage error).

Verdicts, the summary, the report paths and `--wait`'s exports go to stdout, so `> log` keeps
them; what is only for the person watching (`--wait`'s WAITING lines) goes to stderr."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from contextlib import ExitStack
from pathlib import Path

import click
from rich.console import Console

from oeskit import signing
from oeskit.cli.report_options import report_options
from oeskit.clienttest import plans
from oeskit.clienttest.control import Sandbox, SandboxError
from oeskit.clienttest.plans import DEFAULT_SLOW_SECONDS, Plan
from oeskit.clienttest.runner import Announce, Progress, RunConfig, run
from oeskit.clienttest.server import own_sandbox
from oeskit.reports.model import ScenarioResult, Status
from oeskit.reports.writer import stamped_dir, write_reports

_STYLE = {
    Status.PASSED: "green",
    Status.FAILED: "bold red",
    Status.WARNING: "yellow",
    Status.SKIPPED: "dim",
}


@click.command(context_settings={"allow_interspersed_args": False})
@click.option(
    "--plan",
    "plan_names",
    multiple=True,
    help=f"Run only this plan (repeatable): {', '.join(p.name for p in plans.PLANS)}.",
)
@report_options
@click.option(
    "--timeout",
    "timeout_s",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds COMMAND may run per plan before it is killed (and FAILED).",
)
@click.option(
    "--slow-seconds",
    default=DEFAULT_SLOW_SECONDS,
    show_default=True,
    type=click.FloatRange(min=0.0, max=600.0),
    help="How long slow-response holds the answer back.",
)
@click.option("--target", help="Base URL of a running sandbox (default: start one).")
@click.option(
    "--sandbox-token",
    envvar="OESKIT_SANDBOX_TOKEN",
    help="Admin token of the --target sandbox's control plane.",
)
@click.option(
    "--public-key",
    help="SCHEME:HEX of your own key: the partner signs with it and OES_PRIVATE_KEY is not set.",
)
@click.option(
    "--wait",
    is_flag=True,
    help="Interactive: print the environment, wait for your client, grade when it goes idle.",
)
@click.option(
    "--idle-seconds",
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=0.5),
    help="--wait grades after this long without a request.",
)
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def client_test(
    plan_names: tuple[str, ...],
    report_dir: Path | None,
    formats: list[str],
    timeout_s: float,
    slow_seconds: float,
    target: str | None,
    sandbox_token: str | None,
    public_key: str | None,
    wait: bool,
    idle_seconds: float,
    command: tuple[str, ...],
) -> None:
    """Grade your client: run COMMAND once per plan against a sandbox playing the server.

    COMMAND gets OES_BASE_URL, OES_ENTERPRISE_ID, OES_ACCESS_TOKEN, OES_SIGNING_SCHEME,
    OES_PRIVATE_KEY, OES_TASK (JSON: settlementAmounts, cutoffAt, notes) and OES_PLAN, and must
    stage the task. Example: oeskit client-test -- python examples/partner_client.py
    """
    try:
        selected = plans.by_name(list(plan_names))
    except KeyError as exc:
        raise click.UsageError(
            f"unknown plan {exc.args[0]}; plans: {', '.join(p.name for p in plans.PLANS)}"
        ) from None
    if not wait:
        _check_command(command)
    if target and not sandbox_token:
        raise click.UsageError("--target needs --sandbox-token (or OESKIT_SANDBOX_TOKEN)")
    config = RunConfig(
        command=command,
        plans=tuple(selected),
        timeout_s=timeout_s,
        slow_seconds=slow_seconds,
        public_key=_public_key(public_key),
        wait=wait,
        idle_s=idle_seconds,
        settle_s=0.6 if target else 0.0,  # other workers write their logs every 0.5 s
    )
    console = Console()
    diagnostics = Console(stderr=True)
    with ExitStack() as stack:
        if target:
            base_url, admin = target, str(sandbox_token)
        else:
            own = stack.enter_context(own_sandbox())
            base_url, admin = own.base_url, own.admin_token
        sandbox = Sandbox(base_url, admin)
        stack.callback(sandbox.close)
        try:
            report = run(
                sandbox,
                config,
                base_url,
                announce=_announcer(console, diagnostics) if wait else None,
                progress=_progress(diagnostics) if wait else None,
                on_result=lambda r: _print_result(console, r),
            )
        except SandboxError as exc:
            raise click.UsageError(f"the sandbox refused the run: {exc}") from exc
    directory = report_dir or stamped_dir(Path("reports"))
    written = write_reports(report, directory, formats)
    s = report.summary
    console.print(
        f"[green]{s.passed} passed[/], [red]{s.failed} failed[/], [dim]{s.skipped} skipped[/] "
        f"in {report.duration_s:.1f} s"
    )
    console.print(f"reports: {', '.join(str(p) for p in written)}", soft_wrap=True)
    sys.exit(report.exit_code())


def _check_command(command: tuple[str, ...]) -> None:
    if not command:
        raise click.UsageError("give the client to run after --, e.g. -- python my_client.py")
    program = command[0]
    found = shutil.which(program) or (
        os.path.isfile(program) and os.access(program, os.X_OK) and program
    )
    if not found:
        raise click.UsageError(f"command not found: {program!r} (from: {shlex.join(command)})")


def _public_key(text: str | None) -> signing.SigningKey | None:
    if text is None:
        return None
    scheme, _, hex_key = text.partition(":")
    try:
        key = signing.SigningKey(scheme=scheme, public_key=hex_key.strip())
        signing.public_key_bytes(key)
    except signing.InvalidKey as exc:
        raise click.UsageError(f"--public-key {text!r}: {exc}") from None
    return key


def _print_result(console: Console, result: ScenarioResult) -> None:
    console.print(
        f"[{_STYLE[result.status]}]{result.status.value:7}[/] {result.id:22} "
        f"{result.duration_s:5.1f} s  {result.title}",
        soft_wrap=True,
    )
    for finding in result.findings:
        console.print(
            f"          {finding.rule} {finding.message}", highlight=False, soft_wrap=True
        )


def _announcer(console: Console, diagnostics: Console) -> Announce:
    def announce(plan: Plan, env: dict[str, str]) -> None:
        console.print(f"\n[bold]plan {plan.name}[/]: {plan.title}. Run your client with:")
        for name, value in env.items():
            print(f"export {name}={shlex.quote(value)}", flush=True)
        diagnostics.print("WAITING for requests (Ctrl-C grades now)")

    return announce


def _progress(console: Console) -> Progress:
    def progress(count: int) -> None:
        console.print(f"\rWAITING: {count} requests seen", end="")

    return progress
