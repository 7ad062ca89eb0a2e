"""Worlds by name: `oeskit.fixtures` resolves packaged names and paths, and every command that
takes a world says which names exist when given an unknown one."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from oeskit import fixtures
from oeskit.cli import main
from oeskit.conformance.profile import sandbox_profile
from oeskit.conformance.scenario import scenarios_dir

ROOT = Path(__file__).resolve().parents[2]
NAMES = "packaged worlds: demo, minimal"


def test_packaged_names_are_the_fixture_worlds() -> None:
    """The named worlds are the files of fixtures/worlds, by stem."""
    assert fixtures.world_names() == ["demo", "minimal"]
    assert (
        fixtures.world_path("minimal").read_bytes()
        == (ROOT / "fixtures" / "worlds" / "minimal.yaml").read_bytes()
    )


def test_a_path_still_works(tmp_path: Path) -> None:
    """A world given as a file path is that file, wherever it is."""
    copy = tmp_path / "mine.yaml"
    copy.write_text((ROOT / "fixtures" / "worlds" / "demo.yaml").read_text())
    assert fixtures.world_path(str(copy)) == copy


@pytest.mark.parametrize("world", ["demox", "worlds/demo.yaml", "nothing.yaml"])
def test_unknown_world_lists_the_packaged_names(world: str) -> None:
    """A name that is not packaged, or a path that does not exist, names what would work."""
    with pytest.raises(fixtures.UnknownWorld, match=NAMES):
        fixtures.world_path(world)


@pytest.mark.parametrize(
    "args",
    [
        ["serve", "--world", "demox"],
        ["world", "check", "demox"],
        ["world", "load", "demox", "--db", "x.db"],
        ["sign", "--world", "demox", "--partner", "p", "-"],
    ],
    ids=["serve", "world-check", "world-load", "sign"],
)
def test_commands_refuse_an_unknown_world_as_a_usage_error(args: list[str]) -> None:
    """Exit 2 (click's usage error) with the packaged names, before anything is opened."""
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert "no packaged world 'demox'" in result.output
    assert NAMES in result.output


def test_world_check_takes_a_name() -> None:
    """`oeskit world check demo` validates the packaged demo world."""
    result = CliRunner().invoke(main, ["world", "check", "demo"])
    assert result.exit_code == 0, result.output
    assert "valid (9 enterprises" in result.output


def test_conform_finds_scenarios_and_its_profile_through_the_resolver() -> None:
    """Scenarios and the sandbox profile come from the fixtures root the resolver picks."""
    assert scenarios_dir() == fixtures.scenarios_dir()
    assert sorted(p.name for p in scenarios_dir().glob("*.yaml"))
    assert sandbox_profile("t").tokens


def test_a_fixtures_path_outside_the_checkout_names_the_shipped_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From a folder without `fixtures/`, `fixtures/worlds/demo.yaml` (the path the docs used to
    show) is the shipped demo world and `fixtures/profiles/demo.yaml` the shipped profile; a
    path that names no shipped file is still refused, listing the packaged worlds."""
    from oeskit.conformance.profile import load_profile

    monkeypatch.chdir(tmp_path)
    assert fixtures.world_path("fixtures/worlds/demo.yaml") == fixtures.world_path("demo")
    assert load_profile("fixtures/profiles/demo.yaml").capabilities
    with pytest.raises(fixtures.UnknownWorld, match=r"no world file 'fixtures/worlds/nope\.yaml'"):
        fixtures.world_path("fixtures/worlds/nope.yaml")
