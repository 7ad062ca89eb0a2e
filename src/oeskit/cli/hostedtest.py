"""`oeskit hosted-test`: grade a partner's own hosted endpoints (what BitGo calls on it) as
BitGo, with BitGo's RSA key; print a verdict per scenario and rule, write conform's four report
formats, and exit 0 (nothing FAILED), 1 (something FAILED) or 2 (usage error)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from oeskit.cli.report_options import report_options
from oeskit.conformance.events import RunFinished, ScenarioFinished
from oeskit.hostedtest.bitgo import load_key
from oeskit.hostedtest.profile import HostedProfile, ProfileError, load_profile
from oeskit.hostedtest.runner import RunConfig, run
from oeskit.reports.model import Report, Status
from oeskit.reports.writer import stamped_dir, write_reports
from oeskit.signing import bitgo_jwt

_STYLE = {
    Status.PASSED: "green",
    Status.FAILED: "bold red",
    Status.WARNING: "yellow",
    Status.SKIPPED: "dim",
}


@click.command("hosted-test")
@click.option("--target", required=True, help="Base URL of the partner's hosted endpoints.")
@click.option(
    "--bitgo-key",
    "key_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="BitGo's RSA private key (PEM) to sign with; the partner holds the public half.",
)
@click.option(
    "--profile",
    "profile_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML: partnerId, connectionTokens (up to 20), capabilities (release, bodyBinding).",
)
@click.option("--scenario", "scenarios", multiple=True, help="Run only this scenario id.")
@click.option(
    "--timeout",
    "timeout_s",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds to wait for each answer.",
)
@report_options
def hosted_test(
    target: str,
    key_path: Path,
    profile_path: Path | None,
    scenarios: tuple[str, ...],
    timeout_s: float,
    report_dir: Path | None,
    formats: list[str],
) -> None:
    """Act as BitGo against TARGET's partner-hosted endpoints and grade every rule of
    partner-hosted.yaml."""
    private_pem = key_path.read_text(encoding="utf-8")
    try:
        load_key(private_pem)  # parsed once: the run signs with the same loaded key
    except bitgo_jwt.InvalidKeyPem as exc:
        raise click.BadParameter(str(exc), param_hint="--bitgo-key") from exc
    try:
        profile = load_profile(profile_path) if profile_path else HostedProfile()
    except ProfileError as exc:
        raise click.BadParameter(str(exc), param_hint="--profile") from exc
    config = RunConfig(
        target=target,
        private_pem=private_pem,
        profile=profile,
        key_path=str(key_path),
        profile_path=str(profile_path) if profile_path else None,
        scenario_ids=scenarios,
        timeout_s=timeout_s,
    )
    console = Console()  # verdicts, the summary and report paths are results: stdout
    try:
        report = _run(config, console)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--scenario") from exc
    directory = report_dir or stamped_dir(Path("reports"))
    written = write_reports(report, directory, formats)
    _summary(report, console)
    console.print(f"reports: {', '.join(str(p) for p in written)}", soft_wrap=True)
    sys.exit(report.exit_code())


def _run(config: RunConfig, console: Console) -> Report:
    for event in run(config):
        if isinstance(event, ScenarioFinished):
            result = event.result
            style = _STYLE[result.status]
            reason = f": {result.reason}" if result.status is not Status.PASSED else ""
            console.print(f"[{style}]{result.status.value:7}[/] {result.id}{reason}")
        elif isinstance(event, RunFinished):
            return event.report
    raise RuntimeError("the runner ended without a report")


def _summary(report: Report, console: Console) -> None:
    table = Table(title=f"oeskit hosted-test {report.target} ({report.duration_s:.1f} s)")
    for column in ("Rule", "Status", "Scenarios"):
        table.add_column(column)
    for rule in report.rules:
        style = _STYLE[rule.status]
        table.add_row(rule.id, f"[{style}]{rule.status.value}", str(len(rule.scenarios)))
    console.print(table)
    s = report.summary
    console.print(
        f"[green]{s.passed} passed[/], [red]{s.failed} failed[/], "
        f"[yellow]{s.warnings} warnings[/], [dim]{s.skipped} skipped[/]"
    )
