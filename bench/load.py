"""Load generators: wrk (the benchmark's) and a Python/httpx fallback (the smoke test's only).

wrk runs out of process with a Lua script that reads pre-signed bodies, one JSON body per line,
and sends the next line with each request (each wrk thread takes every n-th line, so no two
requests share a body). Its `done` hook prints one JSON line with the counts and percentiles.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import orjson

WRK_LUA = r"""
-- bench/load.py: POST the next pre-signed body of a file with each request.
local counter = 0
local threads = {}

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local path, nthreads = args[1], tonumber(args[2])
  bodies = {}
  local i = 0
  for line in io.lines(path) do
    if #line > 0 then
      if i % nthreads == tid then bodies[#bodies + 1] = line end
      i = i + 1
    end
  end
  idx = 0
  wrapped = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. args[3]
end

function request()
  idx = idx + 1
  if idx > #bodies then
    idx = 1
    wrapped = wrapped + 1
  end
  return wrk.format(nil, nil, nil, bodies[idx])
end

function done(summary, latency, requests)
  local wraps = 0
  for _, t in ipairs(threads) do wraps = wraps + (t:get("wrapped") or 0) end
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,' ..
    '"read_errors":%d,"write_errors":%d,"status_errors":%d,"timeouts":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,"wraps":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, wraps))
end
"""


class NoLoadGenerator(RuntimeError):
    pass


def ensure_wrk(log: Callable[[str], None] = print) -> str:
    """Path of wrk; installs Debian's package when missing and we are root, else says how."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise NoLoadGenerator(
            "wrk is not installed and we are not root: run "
            "`sudo apt-get install -y wrk`, then `make bench` again"
        )
    apt = shutil.which("apt-get")
    if apt is None:
        raise NoLoadGenerator(
            "wrk is not installed and there is no apt-get: install wrk "
            "(https://github.com/wg/wrk) and run `make bench` again"
        )
    log("wrk is not installed: apt-get install -y wrk ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        [apt, "install", "-y", "-q", "wrk"],
        [apt, "update", "-q"],
        [apt, "install", "-y", "-q", "wrk"],
    ):
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
            check=False,
        )
        if command[1] == "install" and result.returncode == 0 and shutil.which("wrk"):
            return str(shutil.which("wrk"))
    raise NoLoadGenerator(f"`apt-get install -y wrk` failed:\n{result.stderr[-1500:]}")


def run_wrk(
    wrk: str,
    url: str,
    bodies: Path,
    token: str,
    *,
    connections: int,
    duration: float,
    workdir: Path,
    threads: int = 1,
) -> dict[str, Any]:
    """Run wrk against `url` posting the lines of `bodies`; return its counts and percentiles."""
    script = workdir / "bench_bodies.lua"
    script.write_text(WRK_LUA)
    threads = max(1, min(threads, connections))
    seconds = max(1, round(duration))
    command = [
        wrk,
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{seconds}s",
        "--timeout",
        "30s",
        "-s",
        str(script),
        url,
        "--",
        str(bodies),
        str(threads),
        token,
    ]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        check=False,
    )
    match = re.search(r"^BENCHJSON (\{.*\})$", result.stdout, re.MULTILINE)
    if result.returncode != 0 or match is None:
        raise RuntimeError(
            f"wrk failed ({result.returncode}): {result.stdout[-800:]} {result.stderr[-800:]}"
        )
    raw = orjson.loads(match.group(1))
    return summarize(raw, generator=f"wrk -t{threads} -c{connections} -d{seconds}s")


def summarize(raw: dict[str, Any], generator: str) -> dict[str, Any]:
    seconds = raw["duration_us"] / 1e6
    errors = sum(
        raw[k]
        for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
    )
    return {
        "generator": generator,
        "requests": raw["requests"],
        "seconds": round(seconds, 3),
        "rps": round(raw["requests"] / seconds, 1) if seconds else 0.0,
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p90_ms": round(raw["p90_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "max_ms": round(raw["max_us"] / 1000, 2),
        "errors": errors,
        "non_2xx": raw["status_errors"],
        "wraps": raw.get("wraps", 0),
        "raw": raw,
    }


def run_python(
    url: str, bodies: Sequence[bytes], token: str, *, connections: int, duration: float
) -> dict[str, Any]:
    """FALLBACK, for the smoke test only: an asyncio/httpx generator in this process.

    Far slower than wrk and sharing the caller's CPU: its numbers are not the benchmark's.
    """
    return asyncio.run(_python_load(url, bodies, token, connections, duration))


async def _python_load(
    url: str, bodies: Sequence[bytes], token: str, connections: int, duration: float
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    latencies: list[float] = []
    status_errors = 0
    other_errors = 0
    cursor = iter(range(10**12))
    wraps = 0
    deadline = time.perf_counter() + duration
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal status_errors, other_errors, wraps
        while time.perf_counter() < deadline:
            i = next(cursor)
            if i and i % len(bodies) == 0:
                wraps += 1
            body = bodies[i % len(bodies)]
            started = time.perf_counter()
            try:
                response = await client.post(url, content=body, headers=headers)
            except httpx.HTTPError:
                other_errors += 1
                continue
            latencies.append(time.perf_counter() - started)
            if response.status_code >= 400:
                status_errors += 1

    started = time.perf_counter()
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:
        await asyncio.gather(*(worker(client) for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> int:
        if not latencies:
            return 0
        return int(latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1e6)

    raw = {
        "requests": len(latencies),
        "duration_us": int(elapsed * 1e6),
        "bytes": 0,
        "connect_errors": 0,
        "read_errors": other_errors,
        "write_errors": 0,
        "status_errors": status_errors,
        "timeouts": 0,
        "p50_us": pct(50),
        "p90_us": pct(90),
        "p99_us": pct(99),
        "max_us": pct(100),
        "mean_us": 0.0,
        "wraps": wraps,
    }
    return summarize(raw, generator=f"python-httpx FALLBACK (test only) -c{connections}")
