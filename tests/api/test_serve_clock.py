"""`oeskit serve --clock` is checked up front and applies to a database that already has state."""

from __future__ import annotations

from pathlib import Path

import httpx
from click.testing import CliRunner

from oeskit.cli import main
from tests.conftest import ADMIN, start_server, stop_server


def test_a_bad_clock_option_is_a_usage_error(tmp_path: Path) -> None:
    """`--clock bogus` exits 2 naming the option, before any database is touched."""
    result = CliRunner().invoke(main, ["serve", "--db", str(tmp_path / "x.db"), "--clock", "bogus"])
    assert result.exit_code == 2
    assert "--clock" in result.output and "wall, frozen or speed=N" in result.output
    assert not (tmp_path / "x.db").exists()


def test_clock_option_applies_to_an_existing_database(tmp_path: Path) -> None:
    """A second start with `--clock frozen` on the same file freezes the sandbox clock."""
    db = tmp_path / "kept.db"
    first = start_server(tmp_path, db=db)
    stop_server(first)
    second = start_server(tmp_path, db=db, extra=("--clock", "frozen"))
    try:
        clock = httpx.get(
            second.base_url + "/sandbox/clock", headers={"Authorization": f"Bearer {ADMIN}"}
        ).json()
    finally:
        stop_server(second)
    assert clock["mode"] == "frozen"
