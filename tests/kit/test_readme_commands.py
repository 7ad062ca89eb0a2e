"""Every command the README shows (each `$ oeskit ...` and `$ curl ...` line of its console
blocks) runs with the installed wheel from an empty folder, as a new user would paste it: the
README's 127.0.0.1:8080 and admin tokens are swapped for a sandbox the test starts there with
the wheel's `oeskit serve --world demo` (the command the landing page shows); the repository
files a command names (the example clients) are copied beside it first; a `REV:PATH` diff runs
in the repository, which holds those revisions. A command the README adds is run here too.
The commands run once per session (tests/kit/readme.py); test_wheel.py reads some of them."""

from __future__ import annotations

import re
import shutil

import pytest

from tests.kit.readme import CONSOLE_BLOCK, README, ROOT, ReadmeRun, readme_commands

# Builds a wheel and installs it: with the other tests of the installed wheel, on one worker.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("kit")]
# The README's own word on each command's exit status (0 unless it says otherwise).
EXPECTED_EXIT = {"mistaken_client.py": 1, "--fail-on breaking": 1, "--sandbox-token wrong": 1}


def test_the_readme_shows_these_commands() -> None:
    """The list below is the README's: a command added there must run in the next test."""
    shown = readme_commands()
    assert len(shown) >= 10, shown
    assert any(c.startswith("oeskit sign --world demo ") for c in shown)
    assert not [c for c in shown if "fixtures/worlds/" in c], "use a world name: --world demo"


def test_shown_only_blocks_name_the_test_that_runs_them() -> None:
    """Each console block the test above leaves out names an existing test file that runs its
    commands; few blocks are left out."""
    named = [m for m, _ in CONSOLE_BLOCK.findall(README.read_text()) if m]
    assert 0 < len(named) <= 6, named
    for path in named:
        assert (ROOT / path).is_file(), path


def test_every_readme_command_runs_from_an_empty_folder(readme_run: ReadmeRun) -> None:
    """Each command exits as the README says (0, or 1 where it shows a FAILED grade or a
    breaking change) with the wheel's oeskit, from an empty folder; the landing page of the
    wheel's server names no command that was not run here."""
    for shown in re.findall(r"<code>(oeskit [^<]*)</code>", readme_run.landing):
        assert shown == "oeskit serve --world demo" or shown == "oeskit serve", shown
    assert [r.command for r in readme_run.runs] == [
        c for c in readme_commands() if shutil.which("curl") or not c.startswith("curl")
    ]
    for ran in readme_run.runs:
        expected = next((v for k, v in EXPECTED_EXIT.items() if k in ran.command), 0)
        done = ran.done
        assert done.returncode == expected, f"{ran.command}\n{done.stdout}\n{done.stderr}"[-4000:]
