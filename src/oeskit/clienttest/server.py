"""A sandbox of the run's own, when no --target is given: `oeskit serve` on a free loopback port
and a fresh database, stopped (its process group) at the end."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

HOST = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class OwnSandbox:
    base_url: str
    admin_token: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextmanager
def own_sandbox(timeout_s: float = 60.0) -> Iterator[OwnSandbox]:
    admin = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="oeskit-client-test-") as workdir:
        port = _free_port()
        log_path = Path(workdir) / "serve.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(  # noqa: S603 - our own CLI, by the running interpreter
                [
                    sys.executable,
                    "-m",
                    "oeskit",
                    "serve",
                    "--host",
                    HOST,
                    "--port",
                    str(port),
                    "--db",
                    str(Path(workdir) / "sandbox.db"),
                    "--admin-token",
                    admin,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        try:
            base_url = f"http://{HOST}:{port}"
            _wait_ready(process, base_url, admin, timeout_s, log_path)
            yield OwnSandbox(base_url, admin)
        finally:
            _stop(process)


def _wait_ready(
    process: subprocess.Popen[bytes], base_url: str, admin: str, timeout_s: float, log: Path
) -> None:
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the sandbox exited: {log.read_text(errors='replace')[-1500:]}")
            try:
                answer = client.get(
                    base_url + "/sandbox/clock", headers={"Authorization": f"Bearer {admin}"}
                )
                if answer.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
    _stop(process)
    raise RuntimeError(f"the sandbox did not start within {timeout_s:g} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
