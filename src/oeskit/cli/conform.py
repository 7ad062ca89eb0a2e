"""`oeskit conform`: run the conformance suite against a target, show progress and a summary,
write the reports, and exit non-zero when anything FAILED.

Results (each FAILED scenario, the rules table, the summary, the report paths) go to stdout, so
`> log` keeps them; the progress bar is a diagnostic, on stderr."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from oeskit.cli.report_options import report_options
from oeskit.conformance.events import (
    RunFinished,
    RunStarted,
    RunStopped,
    ScenarioFinished,
    ScenarioStarted,
)
from oeskit.conformance.profile import Profile, ProfileError, load_profile, sandbox_profile
from oeskit.conformance.runner import DEFAULT_MAX_EXAMPLES, RunConfig, run
from oeskit.conformance.scenario import ScenarioError
from oeskit.reports.model import Report, Status
from oeskit.reports.writer import stamped_dir, write_reports
from oeskit.settings import hypothesis_storage_in_our_cache

_STYLE = {
    Status.PASSED: "green",
    Status.FAILED: "bold red",
    Status.WARNING: "yellow",
    Status.SKIPPED: "dim",
}


@click.command()
@click.option("--target", required=True, help="Base URL of the system under test.")
@click.option(
    "--profile",
    "profile_path",
    type=click.Path(exists=True, dir_okay=False),
    help="Target profile (YAML); without it the target must be an oeskit sandbox.",
)
@click.option(
    "--sandbox-token",
    envvar="OESKIT_SANDBOX_TOKEN",
    help="Admin token of the target's /sandbox/ control plane.",
)
@click.option("--scenario", "scenarios", multiple=True, help="Run only this scenario id.")
@click.option("--tag", "tags", multiple=True, help="Run only scenarios with this tag.")
@click.option(
    "--fuzz/--no-fuzz",
    default=None,
    help="Run the schemathesis pass (default: on, off with --scenario/--tag).",
)
@click.option(
    "--max-examples",
    default=DEFAULT_MAX_EXAMPLES,
    show_default=True,
    help="Fuzz examples per operation.",
)
@click.option("--seed", default=0, show_default=True, help="Fuzz seed.")
@report_options
@click.option(
    "--fail-on",
    type=click.Choice(["failure", "warning"]),
    default="failure",
    show_default=True,
    help="Exit non-zero on failures only, or on warnings too.",
)
def conform(
    target: str,
    profile_path: str | None,
    sandbox_token: str | None,
    scenarios: tuple[str, ...],
    tags: tuple[str, ...],
    fuzz: bool | None,
    max_examples: int,
    seed: int,
    report_dir: Path | None,
    formats: list[str],
    fail_on: str,
) -> None:
    """Run the conformance scenarios (and a fuzz pass) against TARGET and write reports."""
    try:
        profile = _profile(profile_path, sandbox_token)
    except ProfileError as exc:
        raise click.ClickException(str(exc)) from exc
    config = RunConfig(
        target=target,
        profile=profile,
        profile_path=profile_path,
        scenario_ids=scenarios,
        tags=tags,
        fuzz=fuzz if fuzz is not None else not (scenarios or tags),
        max_examples=max_examples,
        seed=seed,
    )
    console = Console()
    try:
        with hypothesis_storage_in_our_cache():
            report = _run_with_progress(config, console, Console(stderr=True))
    except (ScenarioError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    directory = report_dir or stamped_dir(Path("reports"))
    written = write_reports(report, directory, formats)
    _summary(report, console)
    # One line however narrow the terminal (or a pipe's 80 columns): scripts read the paths.
    console.print(f"reports: {', '.join(str(p) for p in written)}", soft_wrap=True)
    sys.exit(report.exit_code(fail_on))


def _profile(path: str | None, sandbox_token: str | None) -> Profile:
    if path is None:
        if not sandbox_token:
            raise ProfileError(
                "without --profile the target must be an oeskit sandbox: "
                "pass --sandbox-token (or OESKIT_SANDBOX_TOKEN)"
            )
        return sandbox_profile(sandbox_token)
    profile = load_profile(path)
    return replace(profile, sandbox_token=sandbox_token) if sandbox_token else profile


def _run_with_progress(config: RunConfig, console: Console, diagnostics: Console) -> Report:
    columns = (
        TextColumn("[bold]conform"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=diagnostics, transient=True) as progress:
        task = progress.add_task("", total=None)
        for event in run(config):
            if isinstance(event, RunStarted):
                progress.update(task, total=event.total)
            elif isinstance(event, ScenarioStarted):
                progress.update(task, description=event.id)
            elif isinstance(event, ScenarioFinished):
                progress.advance(task)
                if event.result.status is Status.FAILED:
                    console.print(f"[bold red]FAILED[/] {event.result.id}: {event.result.reason}")
            elif isinstance(event, RunStopped):
                console.print(f"[bold red]stopped:[/] {event.reason}")
            elif isinstance(event, RunFinished):
                return event.report
    raise RuntimeError("the runner ended without a report")


def _summary(report: Report, console: Console) -> None:
    table = Table(title=f"oeskit conform {report.target} ({report.duration_s:.1f} s)")
    for column in ("Rule", "Status", "Scenarios"):
        table.add_column(column)
    for rule in report.rules:
        table.add_row(
            rule.id, f"[{_STYLE[rule.status]}]{rule.status.value}", str(len(rule.scenarios))
        )
    console.print(table)
    s = report.summary
    console.print(
        f"[green]{s.passed} passed[/], [red]{s.failed} failed[/], "
        f"[yellow]{s.warnings} warnings[/], [dim]{s.skipped} skipped[/]"
    )
