"""The README's commands run with the installed wheel, once per session (tests/kit/conftest.py):
each `$ oeskit ...` and `$ curl ...` line of its console blocks, as a new user would paste it,
against a sandbox started from an empty folder with the wheel's `oeskit serve --world demo`.
test_readme_commands.py checks every exit status; test_wheel.py reads the runs of the commands
it is about (conform against the wheel's server, lint, docs build) instead of repeating them."""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

from oeskit.testing.server import start_serve
from tests.kit.conftest import Kit

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
README_TOKENS = ("fijFGS1TF8A2KER8AaDwIYMe", "<admin token>")
REQUEST = (
    '{"externalId":"s-1","settlementAmounts":{"09684b38-49ed-4cf6-a28e-c3a459494c69":'
    '{"BTC":"-100"}},"cutoffAt":"2026-11-01T00:00:00.000Z"}'
)
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


@dataclass(frozen=True)
class Ran:
    command: str  # as the README shows it
    folder: Path  # the empty folder it ran from (its files: reports, a site)
    done: subprocess.CompletedProcess[str]


@dataclass(frozen=True)
class ReadmeRun:
    server_folder: Path  # where the wheel's `oeskit serve` ran
    landing: str  # the page that server answers at /
    runs: list[Ran]

    def find(self, pattern: str) -> Ran:
        """The one run whose README command matches `pattern` (a regular expression)."""
        found = [r for r in self.runs if re.fullmatch(pattern, r.command)]
        assert len(found) == 1, f"{pattern!r}: {[r.command for r in self.runs]}"
        return found[0]


def run_readme(kit: Kit, base: Path) -> ReadmeRun:
    """Start the wheel's sandbox from an empty folder, then run every README command (curl
    only where curl is installed), each from an empty folder of its own."""
    server_folder = base / "server"
    server_folder.mkdir()
    admin = secrets.token_urlsafe(12)
    server = start_serve(
        server_folder,
        Path("sandbox.db"),
        admin=admin,
        world="demo",
        command=(str(kit.bin / "oeskit"),),
    )
    try:
        landing = httpx.get(server.base_url + "/").text
        commands = [
            c for c in readme_commands() if shutil.which("curl") or not c.startswith("curl")
        ]
        folders = [base / f"command-{n}" for n in range(len(commands))]
        # Side by side: they share nothing but the server (each conform in its own namespace,
        # client-test on a sandbox of its own), and most of their time is designed waits.
        with ThreadPoolExecutor(4) as pool:
            done = list(
                pool.map(lambda c, f: _run(kit, c, f, server.base_url, admin), commands, folders)
            )
    finally:
        server.stop()
    runs = [Ran(c, f, d) for c, f, d in zip(commands, folders, done, strict=True)]
    return ReadmeRun(server_folder, landing, runs)


def _run(
    kit: Kit, command: str, folder: Path, base_url: str, admin: str
) -> subprocess.CompletedProcess[str]:
    folder.mkdir()
    (folder / "request.json").write_text(REQUEST)
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
