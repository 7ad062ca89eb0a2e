"""The built wheel installed in a fresh venv, once per session, for the tests that use oeskit as
a partner does: from a folder that is not the checkout, with nothing but the wheel installed."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.kit.readme import ReadmeRun

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Kit:
    wheel: Path
    bin: Path  # the fresh venv's bin folder

    def env(self) -> dict[str, str]:
        """Our environment with the fresh venv first on PATH and nothing pointing at ours."""
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(self.bin.parent)
        return env

    def run(self, *args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            cwd=cwd,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def _check(command: list[str], cwd: Path) -> None:
    done = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=900, check=False
    )
    assert done.returncode == 0, f"{command}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


@pytest.fixture(scope="session")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    """`pip wheel .` of this checkout, installed with its dependencies (pip's normal index and
    cache: a couple of minutes the first time, ~15 s after) in a venv of its own."""
    root = tmp_path_factory.mktemp("kit")
    dist = root / "dist"
    _check(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)], root
    )
    wheel = next(dist.glob("oeskit-*.whl"))
    venv = root / "venv"
    # Our pip installs into the new venv (`--python`): the pip that `venv` bundles resolved
    # the same install ~3x slower here (30 s against 10 s), and ensurepip itself costs ~8 s.
    # pip goes in too, for the CI recipes' own `pip install`. No byte-compiling of every
    # dependency: the tests import a fraction of them, compiled on first use.
    _check([sys.executable, "-m", "venv", "--without-pip", str(venv)], root)
    _check(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
         "-q", "--no-compile", str(wheel), "pip"],
        root,
    )  # fmt: skip
    return Kit(wheel, venv / "bin")


@pytest.fixture(scope="session")
def readme_run(kit: Kit, tmp_path_factory: pytest.TempPathFactory) -> ReadmeRun:
    """Every README command run once with the installed wheel (tests/kit/readme.py), for the
    test of the README's commands and the wheel tests that check the same commands' work."""
    from tests.kit.readme import run_readme

    return run_readme(kit, tmp_path_factory.mktemp("readme"))
