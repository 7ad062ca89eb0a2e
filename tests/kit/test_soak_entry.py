"""`python soak/run.py` runs from the checkout root on its own (issue 9): soak imports only the
installed oeskit package, not bench."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_soak_script_help_runs_from_the_checkout_root() -> None:
    """`python soak/run.py --help` exits 0 and prints its options."""
    done = subprocess.run(
        [sys.executable, "soak/run.py", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "--seconds" in done.stdout
    assert "--connections" in done.stdout
