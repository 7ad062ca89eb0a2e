"""The `oeskit` command: serve, sign, keys, world, doctor, conform."""

from __future__ import annotations

import click

from oeskit.cli.conform import conform
from oeskit.cli.doctor import doctor
from oeskit.cli.serve import serve
from oeskit.cli.signing import keys, sign
from oeskit.cli.world import world


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="oeskit")
def main() -> None:
    """oeskit: reference sandbox and conformance kit for the OES v2 settlements API."""


main.add_command(serve)
main.add_command(sign)
main.add_command(keys)
main.add_command(world)
main.add_command(doctor)
main.add_command(conform)
