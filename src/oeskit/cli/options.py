"""Option values shared by several commands, checked while click parses them, so a bad value is a
usage error (exit 2, naming the option) before any database is opened. Light on imports: `serve`
uses it (start-up time)."""

from __future__ import annotations

import click

from oeskit.clock import ClockState, utcnow


def check_clock(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """`--clock wall|frozen|speed=N`: refuse anything `ClockState.from_option` cannot read."""
    try:
        ClockState.from_option(value, utcnow())
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
    return value
