"""The README's kit sections stay true: its partner test file is the one the plugin tests run,
and each CI recipe's shell commands run (the YAML wrapper aside) against the installed wheel."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from oeskit.testing.server import free_port
from tests.kit.conftest import Kit

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
EXAMPLE = ROOT / "examples" / "test_partner_example.py"


def _block(marker: str) -> str:
    """The fenced code between `<!-- marker -->` and `<!-- /marker -->` in the README."""
    found = re.search(
        rf"<!-- {re.escape(marker)} -->\n```\w*\n(.*?)```\n<!-- /{marker.split(':')[0]}",
        README,
        re.S,
    )
    assert found, f"README has no block <!-- {marker} -->"
    return found.group(1)


def test_readme_partner_file_is_the_example_file() -> None:
    """The README's partner test file is examples/test_partner_example.py, byte for byte."""
    assert _block("example:examples/test_partner_example.py") == EXAMPLE.read_text()


def _github(recipe: dict[str, Any]) -> tuple[dict[str, str], list[str], list[str]]:
    (job,) = recipe["jobs"].values()
    steps = job["steps"]
    junit = [s["with"]["report_paths"] for s in steps if "action-junit-report" in s.get("uses", "")]
    return dict(job["env"]), [s["run"] for s in steps if "run" in s], junit


def _gitlab(recipe: dict[str, Any]) -> tuple[dict[str, str], list[str], list[str]]:
    (job,) = recipe.values()
    commands = [*job.get("before_script", []), *job["script"]]
    return dict(job["variables"]), commands, list(job["artifacts"]["reports"]["junit"])


@pytest.mark.slow  # installs the wheel, runs a sandbox, conform and a pytest run
@pytest.mark.xdist_group("kit")  # one worker builds and installs the wheel (tests/kit/conftest.py)
@pytest.mark.parametrize("marker", ["ci:github-actions", "ci:gitlab"])
def test_ci_recipe_commands_run(marker: str, kit: Kit, tmp_path: Path) -> None:
    """In a folder holding only the wheel and the partner's tests, the recipe's commands (each
    `run` step in a shell of its own for GitHub, one shell for GitLab) exit 0 and leave every
    junit.xml the recipe publishes, with nothing failed."""
    recipe = yaml.safe_load(_block(marker))
    env, commands, junit = (_github if "github" in marker else _gitlab)(recipe)
    repo = tmp_path / "repo"
    (repo / "tests").mkdir(parents=True)
    shutil.copy(kit.wheel, repo / kit.wheel.name)
    shutil.copy(EXAMPLE, repo / "tests" / EXAMPLE.name)
    env["OESKIT_PORT"] = str(free_port())  # not 8080: tests run side by side
    # The recipe's pytest and its two xdist workers leave out the pytest plugins of schemathesis
    # and hypothesis (installed with oeskit, unused by the partner's tests): ~2.5 s of CPU
    # each process spent importing them. A partner can pass the same.
    env["PYTEST_ADDOPTS"] = "-p no:schemathesis -p no:hypothesispytest"
    assert all(isinstance(c, str) for c in commands), commands  # YAML read `a: b` as a mapping
    if "github" in marker:  # each `run` is a shell of its own
        for n, command in enumerate(commands):
            (repo / f".step-{n}.sh").write_text(command)
        script = " && ".join(f"bash -e .step-{n}.sh" for n in range(len(commands)))
    else:
        script = "set -e\n" + "\n".join(commands)
    # A session of its own, so the sandbox the recipe leaves running is stopped by group id.
    shell = subprocess.Popen(
        ["bash", "-c", script],
        cwd=repo,
        env={**kit.env(), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = shell.communicate(timeout=600)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(shell.pid, signal.SIGTERM)
    assert shell.returncode == 0, output[-4000:]
    published = sorted(p for pattern in junit for p in repo.glob(pattern))
    assert [p.relative_to(repo).as_posix() for p in published] == [
        "reports/conform/junit.xml",
        "reports/pytest/junit.xml",
    ]
    for path in published:
        suites = ET.parse(path).getroot()  # noqa: S314 - files this test just produced
        suite = suites if suites.tag == "testsuite" else suites[0]
        assert int(suite.get("tests", "0")) > 0, path
        assert suite.get("failures") == "0" and suite.get("errors") == "0", path
