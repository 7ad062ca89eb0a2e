"""The `oeskit` command: serve, sign, keys, world, doctor, conform, client-test, hosted-test,
diff, lint, docs, partner.

Subcommands are imported when they are called: `oeskit serve` should not pay for importing the
conformance runner and schemathesis (start-up time is a benchmark target).
"""

from __future__ import annotations

import importlib

import click

_COMMANDS = {
    "serve": "oeskit.cli.serve:serve",
    "sign": "oeskit.cli.signing:sign",
    "keys": "oeskit.cli.signing:keys",
    "world": "oeskit.cli.world:world",
    "doctor": "oeskit.cli.doctor:doctor",
    "conform": "oeskit.cli.conform:conform",
    "client-test": "oeskit.cli.clienttest:client_test",
    "hosted-test": "oeskit.cli.hostedtest:hosted_test",
    "diff": "oeskit.cli.publish:diff",
    "lint": "oeskit.cli.publish:lint",
    "docs": "oeskit.cli.publish:docs",
    "partner": "oeskit.cli.partner:partner",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="oeskit")
def main() -> None:
    """oeskit: reference sandbox and conformance kit for the OES v2 settlements API."""
