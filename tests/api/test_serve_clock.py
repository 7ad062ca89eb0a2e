"""`--clock` of `oeskit serve` and `oeskit world load` is checked up front, and serve's applies to a
database that already has state."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from oeskit.cli import main
from tests.conftest import ADMIN, DEMO, start_server, stop_server


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


@pytest.mark.parametrize("value", ["bogus", "speed=0", "speed=fast"])
def test_world_load_refuses_a_bad_clock_option(tmp_path: Path, value: str) -> None:
    """`oeskit world load --clock <bad>` is a usage error naming the option (it was a traceback),
    and the database file is not created."""
    db = tmp_path / "x.db"
    result = CliRunner().invoke(
        main, ["world", "load", str(DEMO), "--db", str(db), "--clock", value]
    )
    assert result.exit_code == 2, result.output
    assert "--clock" in result.output and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not db.exists()
