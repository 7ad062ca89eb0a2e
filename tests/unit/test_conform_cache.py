"""`oeskit conform` run from an empty folder leaves nothing there but its reports: the fuzz
pass's Hypothesis keeps the tables it computes once (the characters a codec can encode) in
oeskit's cache folder, not in `.hypothesis/` under the current folder, where every run from a
fresh folder computed them again (~1.4 s of CPU) and left the folder behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ADMIN, LiveServer

CACHED = Path.home() / ".cache" / "oeskit" / "hypothesis" / "unicode_data"
CONFORM = ("conform", "--sandbox-token", ADMIN, "--scenario", "auth-missing-token", "--fuzz")


def _conform(target: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "oeskit", *CONFORM, "--max-examples", "1", "--target", target],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_fuzz_pass_keeps_hypothesis_out_of_the_current_folder(
    live_server: LiveServer,
    tmp_path: Path,
) -> None:
    cache, folder = tmp_path / "xdg-cache", tmp_path / "empty"
    folder.mkdir()
    if CACHED.is_dir():  # the tables this machine already computed: the test need not pay again
        shutil.copytree(CACHED, cache / "oeskit" / "hypothesis" / "unicode_data")
    env = {k: v for k, v in os.environ.items() if k != "HYPOTHESIS_STORAGE_DIRECTORY"}
    env["XDG_CACHE_HOME"] = str(cache)

    result = _conform(live_server.base_url, folder, env)

    assert result.returncode == 0, result.stdout + result.stderr
    reports = sorted(folder.iterdir())
    assert [p.name for p in reports] == ["reports"]  # its stamped folder, nothing else
    assert "fuzz:" in next(reports[0].rglob("report.json")).read_text()  # the fuzz pass ran
    assert list((cache / "oeskit" / "hypothesis" / "unicode_data").rglob("codec-*.json.gz"))
