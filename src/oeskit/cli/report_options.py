"""The report options of the commands that grade something (`conform`, `client-test`):
`--report-dir` and `--format`, the formats checked while click parses them (exit 2)."""

from __future__ import annotations

from pathlib import Path

import click

from oeskit.reports.writer import FORMATS


def check_formats(ctx: click.Context, param: click.Parameter, value: str) -> list[str]:
    """`--format json,junit,html,md`: the report formats named, each one the writer knows."""
    chosen = [name.strip() for name in value.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(FORMATS))
    if unknown:
        raise click.BadParameter(
            f"unknown formats {unknown}; choose from {', '.join(FORMATS)}", ctx=ctx, param=param
        )
    return chosen


def report_options(command: click.decorators.FC) -> click.decorators.FC:
    """`--report-dir` and `--format`, as conform and client-test both write reports."""
    command = click.option(
        "--format",
        "formats",
        default="json,junit,html,md",
        show_default=True,
        callback=check_formats,
        help="Comma-separated report formats.",
    )(command)
    return click.option(
        "--report-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Write reports here (default: reports/<UTC stamp>/).",
    )(command)
