"""Every command the README shows (each `$ oeskit ...` and `$ curl ...` line of its console
blocks) runs with the installed wheel from an empty folder, as a new user would paste it: the
README's 127.0.0.1:8080 and admin tokens are swapped for a sandbox the test starts there with
the wheel's `oeskit serve --world demo` (the command the landing page shows); the repository
files a command names (the example clients) are copied beside it first; a `REV:PATH` diff runs
in the repository, which holds those revisions. A command the README adds is run here too."""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from oeskit.testing.server import start_serve
from tests.kit.conftest import Kit

# Builds a wheel and installs it: with the other tests of the installed wheel, on one worker.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("kit")]
ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
README_TOKENS = ("fijFGS1TF8A2KER8AaDwIYMe", "<admin token>")
# The README's own word on each command's exit status (0 unless it says otherwise).
EXPECTED_EXIT = {"mistaken_client.py": 1, "--fail-on breaking": 1, "--sandbox-token wrong": 1}


# A console block preceded by `<!-- shown-only: tests/PATH -->` starts long-running servers or
# needs a service of the reader's own (a partner's endpoints, PostgreSQL): it is not pasted
# here, and the test file it names runs the same commands against real processes.
CONSOLE_BLOCK = re.compile(r"(?:<!-- shown-only: (\S+) -->\n\n?)?```console\n(.*?)```", re.S)


def readme_commands() -> list[str]:
    """The `$ ` lines of the README's console blocks (continuations joined) that run oeskit or
    curl; `make` lines are the checkout's own, `echo` shows a status."""
    commands = []
    for marker, block in CONSOLE_BLOCK.findall(README.read_text()):
        if marker:  # a block that needs its own servers: the test it names runs it for real
            continue
        lines = block.splitlines()
        for n, line in enumerate(lines):
            text = line.strip()
            if not text.startswith("$ "):
                continue
            command = text[2:]
            while command.endswith("\\"):
                n += 1
                command = command[:-1] + " " + lines[n].strip()
            command = command.split("  #")[0].strip()
            if command.split()[0] in ("oeskit", ".venv/bin/oeskit", "curl"):
                commands.append(command)
    return commands


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


def test_every_readme_command_runs_from_an_empty_folder(kit: Kit, tmp_path: Path) -> None:
    """Each command exits as the README says (0, or 1 where it shows a FAILED grade or a
    breaking change) with the wheel's oeskit, from an empty folder; the landing page of the
    wheel's server names no command that was not run here."""
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "request.json").write_text(
        '{"externalId":"s-1","settlementAmounts":{"09684b38-49ed-4cf6-a28e-c3a459494c69":'
        '{"BTC":"-100"}},"cutoffAt":"2026-11-01T00:00:00.000Z"}'
    )
    admin = secrets.token_urlsafe(12)
    server = start_serve(
        empty, Path("sandbox.db"), admin=admin, world="demo", command=(str(kit.bin / "oeskit"),)
    )
    try:
        landing = httpx.get(server.base_url + "/").text
        for shown in re.findall(r"<code>(oeskit [^<]*)</code>", landing):
            assert shown == "oeskit serve --world demo" or shown == "oeskit serve", shown
        commands = [
            c for c in readme_commands() if shutil.which("curl") or not c.startswith("curl")
        ]
        # Side by side: they share nothing but the server (each conform in its own namespace,
        # client-test on a sandbox of its own), and most of their time is designed waits.
        with ThreadPoolExecutor(4) as pool:
            runs = list(pool.map(lambda c: _run(kit, c, empty, server.base_url, admin), commands))
        for command, done in zip(commands, runs, strict=True):
            expected = next((v for k, v in EXPECTED_EXIT.items() if k in command), 0)
            assert done.returncode == expected, f"{command}\n{done.stdout}\n{done.stderr}"[-4000:]
    finally:
        server.stop()


def _run(
    kit: Kit, command: str, folder: Path, base_url: str, admin: str
) -> subprocess.CompletedProcess[str]:
    line = command.replace("http://127.0.0.1:8080", base_url).replace(".venv/bin/oeskit", "oeskit")
    for token in README_TOKENS:
        line = line.replace(token, admin)
    cwd = folder
    if re.search(r"\b[0-9a-f]{7,40}:\S+", line):
        cwd = ROOT  # diff between two revisions of this repository's history
    for name in re.findall(r"\b((?:examples|tests)/\S+\.py)\b", line):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, folder / name)
    return subprocess.run(
        ["bash", "-c", line],
        cwd=cwd,
        env=kit.env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
