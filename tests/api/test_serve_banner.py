"""`oeskit serve` prints ready-to-paste signed requests that behave as the banner says."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import LiveServer


def _banner_lines(tmp_path: Path, server: LiveServer) -> list[str]:
    log = next(tmp_path.glob("server-*.log"))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = [
            line.strip()
            for line in log.read_text().splitlines()
            if line.strip().startswith("curl ")
        ]
        if len(lines) == 2:
            return lines
        time.sleep(0.1)
    raise AssertionError(log.read_text())


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_printed_curls_stage_replay_and_conflict(tmp_path: Path, live_server: LiveServer) -> None:
    """The first printed curl stages (200 pending), again gives the same id, the second is 409."""
    first, conflict = _banner_lines(tmp_path, live_server)

    def run(command: str) -> dict[str, object]:
        out = subprocess.run(["bash", "-c", command], capture_output=True, text=True, check=True)
        return json.loads(out.stdout)

    created = run(first)
    assert created["settlement"]["status"] == "pending"  # type: ignore[index]
    again = run(first)
    assert again["settlement"]["id"] == created["settlement"]["id"]  # type: ignore[index]
    refused = run(conflict)
    assert refused["rule"] == "OES-IDEM-002"
    assert "different properties" in str(refused["error"])
