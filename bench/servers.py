"""Processes under test: the sandbox (via bench.launch or `oeskit serve`) and Prism.

Every server binds 127.0.0.1 on a free port; each is stopped by its own pid.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.fixtures import CONTRACT, DEMO, ROOT

ADMIN = "bench-admin-token"
HOST = "127.0.0.1"
PRISM_CACHE = Path(os.environ.get("OESKIT_BENCH_CACHE", Path.home() / ".cache" / "oeskit-bench"))


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
    name: str
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path
    ready_ms: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)

    def wait_ready(
        self, path: str, timeout: float = 60.0, poll: float = 0.005, started: float | None = None
    ) -> float:
        """Poll `path` until it answers 200; return ms since `started` (default: now)."""
        started = time.perf_counter() if started is None else started
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited: {self.log_tail()}")
                try:
                    if client.get(self.base_url + path, headers=self.headers).status_code == 200:
                        self.ready_ms = (time.perf_counter() - started) * 1000
                        return self.ready_ms
                except httpx.HTTPError:
                    pass
                time.sleep(poll)
        self.stop()
        raise RuntimeError(
            f"{self.name} did not answer 200 on {path} within {timeout} s: {self.log_tail()}"
        )

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def rss_kb(self) -> int:
        return rss_kb(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def spawn(
    name: str, command: list[str], workdir: Path, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], Path]:
    log_path = workdir / f"{name}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    log.close()
    return process, log_path


def start_sandbox(
    workdir: Path, *, workers: int = 1, name: str | None = None, world: Path | None = None
) -> Server:
    """The sandbox through bench.launch (body limit 200 MB), ready to serve."""
    name = name or f"sandbox-{workers}w"
    port = free_port()
    db = workdir / f"{name}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "bench.launch",
        "--port",
        str(port),
        "--db",
        str(db),
        "--workers",
        str(workers),
        "--admin-token",
        ADMIN,
    ]
    if world is not None:
        command += ["--world", str(world)]
    started = time.perf_counter()
    process, log_path = spawn(name, command, workdir)
    server = Server(
        name,
        process,
        f"http://{HOST}:{port}",
        log_path,
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    server.wait_ready("/sandbox/clock", started=started)
    return server


def post_world(server: Server, world: dict[str, Any], timeout: float = 900.0) -> float:
    """Replace the sandbox state with `world`; return the time it took in ms."""
    body = orjson.dumps(world)
    started = time.perf_counter()
    response = httpx.post(
        server.base_url + "/sandbox/world",
        content=body,
        timeout=timeout,
        headers={**server.headers, "Content-Type": "application/json"},
    )
    if response.status_code != 200:
        raise RuntimeError(
            f"loading the bench world answered {response.status_code}: {response.text[:500]}"
        )
    return (time.perf_counter() - started) * 1000


def start_serve(
    workdir: Path,
    db: Path,
    *,
    workers: int = 1,
    admin: str = ADMIN,
    fresh: bool = False,
    extra: tuple[str, ...] = (),
    name: str | None = None,
    timeout: float = 60.0,
    poll: float = 0.05,
) -> Server:
    """`oeskit serve` itself (the CLI partners run) on the demo world, ready: its control plane
    answered 200. `ready_ms` is process start to that answer; the log is workdir/<name>.log."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "oeskit",
        "serve",
        "--host",
        HOST,
        "--port",
        str(port),
        "--db",
        str(db),
        "--world",
        str(DEMO),
        "--workers",
        str(workers),
        "--admin-token",
        admin,
        *(["--fresh"] if fresh else []),
        *extra,
    ]
    name = name or f"server-{port}"
    started = time.perf_counter()
    process, log_path = spawn(name, command, workdir)
    server = Server(
        name,
        process,
        f"http://{HOST}:{port}",
        log_path,
        headers={"Authorization": f"Bearer {admin}"},
    )
    server.wait_ready("/sandbox/clock", timeout=timeout, poll=poll, started=started)
    return server


def startup_ms(workdir: Path, repeats: int = 3) -> list[float]:
    """`oeskit serve` (1 worker, demo world, fresh database): process start to first 200."""
    out = []
    for i in range(repeats):
        server = start_serve(
            workdir, workdir / f"startup-{i}.db", fresh=True, name=f"startup-{i}", poll=0.002
        )
        out.append(server.ready_ms)
        server.stop()
    return out


# --- Prism ----------------------------------------------------------------------------------


def prism_binary(log: Any = print) -> Path | None:
    """Prism from npm in the cache dir, installed on first use; None (with a message) if not."""
    prefix = PRISM_CACHE / "prism"
    binary = prefix / "node_modules" / ".bin" / "prism"
    if binary.exists():
        return binary
    npm = shutil.which("npm")
    if npm is None:
        log("npm is not installed: skipping the Prism column (install Node.js and npm to get it)")
        return None
    prefix.mkdir(parents=True, exist_ok=True)
    log(f"installing @stoplight/prism-cli into {prefix} (npm, once) ...")
    result = subprocess.run(
        [npm, "install", "--prefix", str(prefix), "@stoplight/prism-cli"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0 or not binary.exists():
        log(f"npm install of @stoplight/prism-cli failed, skipping Prism:\n{result.stderr[-1500:]}")
        return None
    return binary


def start_prism(binary: Path, workdir: Path) -> Server:
    """`prism mock openapi.yaml` (static examples, logging at warn so it does not slow it)."""
    port = free_port()
    command = [str(binary), "mock", str(CONTRACT), "-p", str(port), "-h", HOST, "-v", "warn"]
    started = time.perf_counter()
    process, log_path = spawn("prism", command, workdir)
    server = Server(
        "prism",
        process,
        f"http://{HOST}:{port}",
        log_path,
        headers={"Authorization": "Bearer demo-exchange-token"},
    )
    server.wait_ready(
        "/api/network/v1/enterprises/ent-exchange/partners/settlements", started=started, poll=0.05
    )
    return server


def prism_version(binary: Path) -> str:
    package = binary.parents[1] / "@stoplight" / "prism-cli" / "package.json"
    try:
        return str(orjson.loads(package.read_bytes()).get("version", "?"))
    except (OSError, orjson.JSONDecodeError):
        return "?"
