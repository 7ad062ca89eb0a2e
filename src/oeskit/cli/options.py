"""Option values shared by several commands, checked while click parses them, so a bad value is a
usage error (exit 2, naming the option) before any database is opened. Light on imports: `serve`
uses it (start-up time)."""

from __future__ import annotations

from typing import Any

import click

from oeskit.clock import ClockState, utcnow
from oeskit.settings import env_value, env_var


class EnvOption(click.Option):
    """An option that falls back to its OESKIT_* environment variable (`--db` reads OESKIT_DB)
    and names it in `--help`. A flag on the command line wins. The variable is read through
    `settings.py`, the one module that reads the environment, not by click itself."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("show_envvar", True)
        super().__init__(*args, **kwargs)
        if not self.envvar:
            longest = max(self.opts, key=len)
            self.envvar = env_var(longest)

    def resolve_envvar_value(self, ctx: click.Context) -> str | None:
        return env_value(self.envvar) if isinstance(self.envvar, str) else None


def check_clock(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """`--clock wall|frozen|speed=N`: refuse anything `ClockState.from_option` cannot read."""
    try:
        ClockState.from_option(value, utcnow())
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
    return value
