"""Processes under test: the sandbox via bench.launch (big bodies), `oeskit serve` start-up
timing, and Prism. Starting and stopping `oeskit serve` itself is oeskit.testing.server's.

Every server binds 127.0.0.1 on a free port; each is stopped by its own pid.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.fixtures import CONTRACT, ROOT
from oeskit.testing.server import HOST, Server, descendants, free_port, rss_kb, spawn, start_serve

__all__ = ["Server", "descendants", "free_port", "rss_kb", "start_serve"]

ADMIN = "bench-admin-token"
PRISM_CACHE = Path(os.environ.get("OESKIT_BENCH_CACHE", Path.home() / ".cache" / "oeskit-bench"))


def start_sandbox(
    workdir: Path,
    *,
    workers: int = 1,
    name: str | None = None,
    world: Path | None = None,
    db: str | None = None,
) -> Server:
    """The sandbox through bench.launch (body limit 200 MB), ready to serve; on a fresh SQLite
    file, or on `db` (a PostgreSQL URL) as it is."""
    name = name or f"sandbox-{workers}w"
    port = free_port()
    if db is None:
        path = workdir / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        db = str(path)
    command = [
        sys.executable,
        "-u",
        "-m",
        "bench.launch",
        "--port",
        str(port),
        "--db",
        db,
        "--workers",
        str(workers),
        "--admin-token",
        ADMIN,
    ]
    if world is not None:
        command += ["--world", str(world)]
    started = time.perf_counter()
    process, log_path = spawn(name, command, workdir, cwd=ROOT)
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


def startup_ms(workdir: Path, repeats: int = 3) -> list[float]:
    """`oeskit serve` (1 worker, demo world, fresh database): process start to first 200."""
    out = []
    for i in range(repeats):
        server = start_serve(
            workdir,
            workdir / f"startup-{i}.db",
            admin=ADMIN,
            fresh=True,
            name=f"startup-{i}",
            poll=0.002,
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
    process, log_path = spawn("prism", command, workdir, cwd=ROOT)
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
