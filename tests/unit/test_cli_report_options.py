"""`--format` of the commands that write reports is checked while the options are parsed."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from oeskit.cli import main


@pytest.mark.parametrize(
    "argv",
    [
        [
            "conform",
            "--target",
            "http://127.0.0.1:9",
            "--sandbox-token",
            "t",
            "--format",
            "json,pdf",
        ],
        ["client-test", "--format", "pdf", "--", "true"],
    ],
    ids=["conform", "client-test"],
)
def test_an_unknown_report_format_is_a_usage_error(argv: list[str]) -> None:
    """Exit 2 naming the option, the unknown format and the known ones, before any request."""
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 2, result.output
    assert "--format" in result.output and "['pdf']" in result.output
    assert "json, junit, html, md" in result.output
