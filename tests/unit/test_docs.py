"""README and CHANGELOG stay true: every rule and every CLI command is documented."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from oeskit import spec
from oeskit.cli import main

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def _commands(group: click.Group, prefix: str = "") -> list[str]:
    out: list[str] = []
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None
        full = f"{prefix}{name}"
        if isinstance(command, click.Group):
            out += _commands(command, full + " ")
        else:
            out.append(full)
    return out


COMMANDS = _commands(main)


def test_readme_lists_every_rule_of_the_catalogue() -> None:
    """The rules table in the README names every rule id of the contract."""
    missing = [
        r["id"] for r in spec.rules_catalogue(spec.contract()) if f"`{r['id']}`" not in README
    ]
    assert missing == []


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_is_documented(command: str) -> None:
    """Each CLI command appears in the README's command table."""
    assert f"`oeskit {command}`" in README


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    """`oeskit <command> --help` exits 0 and prints a usage line."""
    result = CliRunner().invoke(main, [*command.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage: ")


def test_changelog_has_an_unreleased_contract_section() -> None:
    """CHANGELOG.md keeps Unreleased on top with a Contract section (Keep a Changelog)."""
    text = (ROOT / "CHANGELOG.md").read_text()
    assert text.index("## [Unreleased]") < text.index("### Contract")
