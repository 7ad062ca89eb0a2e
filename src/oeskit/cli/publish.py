"""`oeskit diff`, `oeskit lint` and `oeskit docs build`: the contract tools for docs teams.

Exit codes: 0 fine (warnings allowed), 1 findings (lint errors, or changes `--fail-on` names),
2 bad input (a one-line message naming the file and the problem).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from oeskit.publish.documents import DocumentError, load


@click.command()
@click.argument("old")
@click.argument("new")
@click.option(
    "--fail-on",
    type=click.Choice(["breaking", "any"]),
    default=None,
    help="Exit 1 when a breaking change (or any change at all) is found.",
)
@click.option("--format", "fmt", type=click.Choice(["text", "md", "json"]), default="text")
def diff(old: str, new: str, fail_on: str | None, fmt: str) -> None:
    """Class every change from OLD to NEW (a path, or REV:PATH from git) for partners."""
    from oeskit.publish import diff_report
    from oeskit.publish.diff import diff as compare

    try:
        before, after = load(old), load(new)
    except DocumentError as exc:
        click.echo(f"oeskit diff: {exc}", err=True)
        sys.exit(2)
    changes = compare(before.data, after.data)
    writer = {"text": diff_report.text, "md": diff_report.markdown, "json": diff_report.as_json}
    click.echo(writer[fmt](changes, old, new), nl=False)
    breaking = any(change.klass == "breaking" for change in changes)
    if (fail_on == "breaking" and breaking) or (fail_on == "any" and changes):
        sys.exit(1)


@click.command()
@click.argument("specs", nargs=-1)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "sarif", "junit"]), default="text"
)
@click.option(
    "--scenarios",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Scenario folder for the every-rule-has-a-scenario check (default: fixtures/scenarios "
    "when at hand).",
)
def lint(specs: tuple[str, ...], fmt: str, scenarios: Path | None) -> None:
    """Check contract documents (default: openapi.yaml, the control plane's sandbox.yaml and
    partner-hosted.yaml)."""
    from oeskit.publish import lint as linter
    from oeskit.publish import lint_report

    sources = list(specs) or [_shown(p) for p in linter.default_specs()]
    try:
        documents = [load(source) for source in sources]
    except DocumentError as exc:
        click.echo(f"oeskit lint: {exc}", err=True)
        sys.exit(2)
    scenario_rules = linter.scenario_rules(scenarios)
    findings = [f for doc in documents for f in linter.lint(doc, scenario_rules)]
    writer = {
        "text": lint_report.text,
        "json": lint_report.as_json,
        "sarif": lint_report.sarif,
        "junit": lint_report.junit,
    }
    click.echo(writer[fmt](findings, sources), nl=False)
    if any(f.severity == "error" for f in findings):
        sys.exit(1)


def _shown(path: Path) -> str:
    """The path relative to the working directory when it is below it (shorter messages)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@click.group()
def docs() -> None:
    """The static reference site."""


@docs.command()
@click.option("--spec", default=None, help="Contract document (default: openapi.yaml).")
@click.option(
    "--partner-hosted",
    "hosted",
    default=None,
    help="Partner-hosted contract document (default: partner-hosted.yaml).",
)
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Folder."
)
def build(spec: str | None, hosted: str | None, out: Path) -> None:
    """Build the static site (works offline, opened from the folder) into OUT."""
    from oeskit.publish import website

    try:
        written = website.build(out, spec, hosted)
    except DocumentError as exc:
        click.echo(f"oeskit docs build: {exc}", err=True)
        sys.exit(2)
    click.echo(f"{len(written)} files written to {out} (open {out / 'index.html'})")
