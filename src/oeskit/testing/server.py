"""Start `oeskit serve` on a free loopback port, wait until it answers, and stop its process tree.

The one copy of this for the project's tests, the pytest plugin, bench and soak. It spawns the
CLI a partner runs (not an in-process app), so what is tested is what ships.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
# Answers 200 once the app serves (it needs the admin token, which every caller has).
READY_PATH = "/sandbox/clock"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def descendants(pid: int) -> list[int]:
    """Every descendant of `pid` (scans /proc: uvicorn's workers are its children)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    out: list[int] = []
    todo = [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def rss_kb(pid: int) -> int:
    """VmRSS of `pid` plus all its descendants, in KiB."""
    total = 0
    for p in [pid, *descendants(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


@dataclass
class Server:
    """A started server process: its URL, its log file and how long it took to answer."""

    name: str
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path
    ready_ms: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)

    def wait_ready(
        self,
        path: str,
        timeout: float = 60.0,
        poll: float = 0.005,
        started: float | None = None,
        status: int = 200,
    ) -> float:
        """Poll `path` until it answers `status` (a GET); return ms since `started` (default:
        now)."""
        # Imported here: the pytest plugin spawns the server first and imports while it boots.
        import httpx

        started = time.perf_counter() if started is None else started
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited: {self.log_tail()}")
                try:
                    answer = client.get(self.base_url + path, headers=self.headers)
                    if answer.status_code == status:
                        self.ready_ms = (time.perf_counter() - started) * 1000
                        return self.ready_ms
                except httpx.HTTPError:
                    pass
                time.sleep(poll)
        self.stop()
        raise RuntimeError(
            f"{self.name} did not answer {status} on {path} within {timeout} s: {self.log_tail()}"
        )

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def rss_kb(self) -> int:
        return rss_kb(self.process.pid)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (uvicorn's supervisor stops its workers), then SIGKILL to the whole tree if
        it has not exited in time, so no worker outlives a test."""
        if self.process.poll() is not None:
            return
        tree = descendants(self.process.pid)
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            for pid in [self.process.pid, *tree]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.process.wait()


def spawn(
    name: str,
    command: Sequence[str],
    workdir: Path,
    *,
    cwd: Path | None = None,
) -> tuple[subprocess.Popen[bytes], Path]:
    """Start `command` with stdout and stderr in workdir/<name>.log; it runs in `cwd`
    (default: workdir) and inherits our environment."""
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own command line, no shell
            list(command),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd or workdir,
        )
    return process, log_path


def start_serve(
    workdir: Path,
    db: Path | str,
    *,
    admin: str,
    world: str | Path = "demo",
    workers: int = 1,
    fresh: bool = False,
    extra: Sequence[str] = (),
    name: str | None = None,
    timeout: float = 60.0,
    poll: float = 0.05,
    command: Sequence[str] = (sys.executable, "-u", "-m", "oeskit"),
    wait: bool = True,
) -> Server:
    """`oeskit serve` (the CLI partners run) on `world`, ready: its control plane answered 200.

    `ready_ms` is process start to that answer; the log is workdir/<name>.log and the process
    runs in workdir. `command` is how to call oeskit (another venv's python, say); unbuffered
    (`-u`) so the banner is in the log as soon as it is printed. With `wait=False` it returns
    at once: call `server.wait_ready(READY_PATH)` after doing something useful meanwhile.

    The port is a free one; if another process takes it between our check and the server's
    bind (tests run side by side under pytest-xdist), the server is started again on another.
    """
    for attempt in range(_PORT_ATTEMPTS):
        port = free_port()
        argv = [
            *command,
            "serve",
            "--host",
            HOST,
            "--port",
            str(port),
            "--db",
            str(db),
            "--world",
            str(world),
            "--workers",
            str(workers),
            "--admin-token",
            admin,
            *(["--fresh"] if fresh else []),
            *extra,
        ]
        label = name or f"server-{port}"
        started = time.perf_counter()
        process, log_path = spawn(label, argv, workdir)
        server = Server(
            label,
            process,
            f"http://{HOST}:{port}",
            log_path,
            headers={"Authorization": f"Bearer {admin}"},
        )
        if not wait:
            return server
        try:
            server.wait_ready(READY_PATH, timeout=timeout, poll=poll, started=started)
        except RuntimeError:
            if attempt + 1 < _PORT_ATTEMPTS and "address already in use" in server.log_tail():
                continue
            raise
        return server
    raise AssertionError("unreachable: the last attempt returns or raises")


_PORT_ATTEMPTS = 3


def start_partner(
    workdir: Path,
    bitgo_public_key: Path,
    *,
    accounts: int = 20,
    extra: Sequence[str] = (),
    name: str | None = None,
    timeout: float = 60.0,
    command: Sequence[str] = (sys.executable, "-u", "-m", "oeskit"),
) -> tuple[Server, Path]:
    """`oeskit partner serve` (the reference partner) on a free port with `accounts` new
    accounts, ready; returns the server and its profile YAML (partnerId, connectionTokens,
    capabilities) for `oeskit hosted-test --profile`. Its database is workdir/<name>.db."""
    port = free_port()
    name = name or f"partner-{port}"
    profile = workdir / f"{name}-profile.yaml"
    argv = [
        *command,
        "partner",
        "serve",
        "--host",
        HOST,
        "--port",
        str(port),
        "--db",
        str(workdir / f"{name}.db"),
        "--bitgo-public-key",
        str(bitgo_public_key),
        "--accounts",
        str(accounts),
        "--profile-out",
        str(profile),
        *extra,
    ]
    process, log_path = spawn(name, argv, workdir)
    server = Server(name, process, f"http://{HOST}:{port}", log_path)
    # The routes are all POST or PUT: a GET answering 405 means the app serves.
    server.wait_ready("/bitgo/v1/connections", timeout=timeout, status=405)
    return server, profile
