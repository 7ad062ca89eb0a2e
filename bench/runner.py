"""The benchmark sections a-e, run side by side in one process that only drives the others."""

from __future__ import annotations

import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench import fixtures, floor, load, postgres, servers
from bench.fixtures import (
    BROKER,
    BROKER_ENTERPRISE,
    BROKER_TOKEN,
    EXCHANGE,
    EXCHANGE_ENTERPRISE,
    EXCHANGE_TOKEN,
    READ_PATH,
    ROOT,
    STAGE_PATH,
)

SECTIONS = ("a", "b", "c", "d", "e", "f")
RATE_CAP = 3000  # bodies signed per second of load: more than any server here answers
# (shape, connections, role): the roles carry the targets.
FULL_CASES = (
    ("exchange", 1000, "small"),
    ("exchange", 10000, "mid"),
    ("exchange", 50000, "large"),
    ("broker", 10000, "broker"),
)
QUICK_CASES = (
    ("exchange", 100, "small"),
    ("exchange", 400, "mid"),
    ("exchange", 1000, "large"),
    ("broker", 400, "broker"),
)


@dataclass
class Options:
    duration: float = 10.0
    quick: bool = False
    skip_prism: bool = False
    only: frozenset[str] = frozenset(SECTIONS)
    repeats: int = 3
    cases: tuple[tuple[str, int, str], ...] = FULL_CASES
    currencies: int = 5
    connections: tuple[int, ...] = (1, 32)
    log: Callable[[str], None] = field(default=lambda text: print(text, flush=True))
    # The smoke test swaps wrk for the in-process Python generator (clearly labelled).
    python_load: bool = False


def _load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def environment() -> dict[str, Any]:
    def run(*command: str) -> str:
        try:
            return subprocess.run(
                command,
                capture_output=True,
                text=True,
                cwd=ROOT,
                timeout=10,
                check=False,
            ).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""

    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "git": run("git", "rev-parse", "--short", "HEAD"),
        "git_dirty": bool(run("git", "status", "--porcelain", "--untracked-files=no")),
        "loadavg_start": _load_average(),
    }


class Bench:
    def __init__(self, options: Options, workdir: Path) -> None:
        self.o = options
        self.workdir = workdir
        self.run_id = f"bench-{int(time.time())}"
        self.results: dict[str, Any] = {
            "options": {
                "duration_s": options.duration,
                "quick": options.quick,
                "skip_prism": options.skip_prism,
                "only": sorted(options.only),
                "cases": [list(c) for c in options.cases],
                "repeats": options.repeats,
            }
        }
        self.wrk: str | None = None
        self.small_bodies_file: Path | None = None

    def log(self, text: str) -> None:
        self.o.log(text)

    # --- load ------------------------------------------------------------------------------------
    def _load(
        self, url: str, bodies: list[bytes] | Path, token: str, connections: int
    ) -> dict[str, Any]:
        if self.o.python_load:
            lines = bodies if isinstance(bodies, list) else bodies.read_bytes().splitlines()
            return load.run_python(
                url, lines, token, connections=connections, duration=self.o.duration
            )
        assert self.wrk is not None
        path = bodies if isinstance(bodies, Path) else self._write(bodies, "custom")
        return load.run_wrk(
            self.wrk,
            url,
            path,
            token,
            connections=connections,
            duration=self.o.duration,
            workdir=self.workdir,
        )

    def _write(self, bodies: list[bytes], name: str) -> Path:
        path = self.workdir / f"bodies-{name}.jsonl"
        fixtures.write_bodies(path, iter(bodies))
        return path

    def _small_file(self, label: str) -> Path:
        count = max(300, int(self.o.duration * RATE_CAP))
        path = self.workdir / f"bodies-{label}.jsonl"
        fixtures.write_bodies(path, fixtures.small_bodies(f"{self.run_id}-{label}", count))
        self.small_bodies_file = path
        return path

    def _warm(self, server: servers.Server, label: str, count: int = 30) -> None:
        url = server.base_url + STAGE_PATH.format(enterprise=EXCHANGE_ENTERPRISE)
        headers = {"Authorization": f"Bearer {EXCHANGE_TOKEN}", "Content-Type": "application/json"}
        with httpx.Client(timeout=30) as client:
            for body in fixtures.small_bodies(f"{self.run_id}-warm-{label}", count):
                response = client.post(url, content=body, headers=headers)
                if response.status_code != 200:
                    raise RuntimeError(
                        f"warm-up on {server.name} answered "
                        f"{response.status_code}: {response.text[:300]}"
                    )

    # --- a, b, and the small-server parts of d and e ----------------------------------------
    def small(self) -> None:
        a, b = "a" in self.o.only, "b" in self.o.only
        d, e = "d" in self.o.only, "e" in self.o.only
        if not (a or b or d or e):
            return
        if not self._ensure_load():
            return
        section_a: dict[str, Any] = {}
        for workers in (1, 2) if a else (1,):
            name = f"sandbox_{workers}w"
            server = servers.start_sandbox(self.workdir, workers=workers)
            try:
                section_a.setdefault("launch_ms", {})[name] = round(server.ready_ms, 1)
                servers.post_world(server, fixtures.world(2))
                self._warm(server, name)
                url = server.base_url + STAGE_PATH.format(enterprise=EXCHANGE_ENTERPRISE)
                if a or (e and workers == 1):
                    runs = {}
                    conns = self.o.connections if a else (max(self.o.connections),)
                    for c in conns:
                        bodies = self._small_file(f"{workers}w-{c}c")
                        self.log(f"a. {name}: {c} connection(s), {self.o.duration:g} s ...")
                        runs[f"c{c}"] = self._load(url, bodies, EXCHANGE_TOKEN, c)
                        self._check_load(name, runs[f"c{c}"], unique=True)
                    if a:
                        section_a[name] = runs
                if workers == 1 and b:
                    self.results["b"] = self.replay_small(server, url)
                if workers == 1 and d:
                    self.results.setdefault("d", {}).update(self.list_reads(server, "small"))
                rss = server.rss_kb() / 1024
                self.results.setdefault("e", {})[f"rss_mb_{workers}w_after_load"] = round(rss, 1)
            finally:
                server.stop()
        if a:
            self.prism(section_a)
            self.results["a"] = section_a

    def _ensure_load(self) -> bool:
        """wrk (or the smoke test's Python generator) ready; False if there is none."""
        if self.wrk is None and not self.o.python_load:
            try:
                self.wrk = load.ensure_wrk(self.log)
            except load.NoLoadGenerator as exc:
                self.log(f"!! {exc}\n!! skipping the load sections (a, b, f, RSS after load)")
                self.results["load_skipped"] = str(exc)
                return False
        return True

    def _check_load(self, name: str, run: dict[str, Any], *, unique: bool) -> None:
        if run["errors"]:
            self.log(f"!! {name}: {run['errors']} errors ({run['non_2xx']} non-2xx)")
        if unique and run["wraps"]:
            self.log(
                f"!! {name}: the bodies ran out ({run['wraps']} wraps): some requests were "
                "replays; raise RATE_CAP"
            )
        self.log(f"   {run['rps']:,.0f} req/s, p50 {run['p50_ms']} ms, p99 {run['p99_ms']} ms")

    def replay_small(self, server: servers.Server, url: str) -> dict[str, Any]:
        body = fixtures.signed_body(f"{self.run_id}-replay", fixtures.SMALL_AMOUNTS)
        response = httpx.post(
            url,
            content=body,
            timeout=30,
            headers={
                "Authorization": f"Bearer {EXCHANGE_TOKEN}",
                "Content-Type": "application/json",
            },
        )
        if response.status_code != 200:
            raise RuntimeError(f"staging the replayed body answered {response.status_code}")
        c = max(self.o.connections)
        self.log(f"b. identical replay, {c} connections, {self.o.duration:g} s ...")
        run = self._load(url, [body], EXCHANGE_TOKEN, c)
        self._check_load("replay", run, unique=False)
        return run

    def prism(self, section_a: dict[str, Any]) -> None:
        if self.o.skip_prism:
            section_a["prism_skipped"] = "--skip-prism"
            return
        binary = servers.prism_binary(self.log)
        if binary is None:
            section_a["prism_skipped"] = "npm missing or install failed"
            return
        server = servers.start_prism(binary, self.workdir)
        try:
            section_a["prism_version"] = servers.prism_version(binary)
            section_a.setdefault("launch_ms", {})["prism"] = round(server.ready_ms, 1)
            url = server.base_url + STAGE_PATH.format(enterprise=EXCHANGE_ENTERPRISE)
            self._warm(server, "prism")
            runs = {}
            for c in self.o.connections:
                bodies = self._small_file(f"prism-{c}c")
                self.log(f"a. prism: {c} connection(s), {self.o.duration:g} s ...")
                runs[f"c{c}"] = self._load(url, bodies, EXCHANGE_TOKEN, c)
                self._check_load("prism", runs[f"c{c}"], unique=False)
            section_a["prism"] = runs
            section_a["prism_rss_mb"] = round(server.rss_kb() / 1024, 1)
        finally:
            server.stop()

    # --- c and d: big settlements ----------------------------------------------------------
    def big(self) -> None:
        c, d = "c" in self.o.only, "d" in self.o.only
        if not (c or d):
            return
        # d reads the mid exchange settlement (10k x 5 = 50k transfers in the full run).
        cases = (
            self.o.cases
            if c
            else tuple(x for x in self.o.cases if x[2] == "mid" and x[0] == "exchange")
        )
        server = servers.start_sandbox(self.workdir, name="sandbox-big")
        out: list[dict[str, Any]] = []
        try:
            for shape, n, role in cases:
                case = self.big_case(server, shape, n, role, with_floor=c)
                out.append(case)
                if role == "mid" and shape == "exchange" and c:
                    self.results.setdefault("c", {})["replay"] = case.pop("replay")
                if role == "mid" and shape == "exchange" and d:
                    self.results.setdefault("d", {}).update(
                        self.settlement_reads(server, case["settlement_id"], case["transfers"])
                    )
                    self.results["d"].update(self.list_reads(server, "big"))
            self.results.setdefault("e", {})["rss_mb_big_server_after_c"] = round(
                server.rss_kb() / 1024, 1
            )
        finally:
            server.stop()
        if c:
            for case in out:
                case.pop("replay", None)
            self.results.setdefault("c", {})["cases"] = out

    def big_case(
        self, server: servers.Server, shape: str, n: int, role: str, *, with_floor: bool
    ) -> dict[str, Any]:
        currencies = self.o.currencies
        if shape == "exchange":
            world = fixtures.world(n)
            ids = fixtures.connection_ids(world, EXCHANGE)
            amounts: dict[str, Any] = fixtures.exchange_amounts(ids, currencies)
            partner, enterprise, token = EXCHANGE, EXCHANGE_ENTERPRISE, EXCHANGE_TOKEN
        else:
            world = fixtures.world(2, n)
            ids = fixtures.connection_ids(world, BROKER)
            amounts = fixtures.broker_amounts(ids, currencies)
            partner, enterprise, token = BROKER, BROKER_ENTERPRISE, BROKER_TOKEN
        self.log(f"c. {shape} {n} x {currencies}: loading the world ({len(ids)} connections) ...")
        world_ms = servers.post_world(server, world)
        del world
        repeats = max(1, self.o.repeats)
        bodies = [
            fixtures.signed_body(f"{self.run_id}-{shape}-{n}-{r}", amounts, partner)
            for r in range(repeats)
        ]
        transfers = n * currencies
        case: dict[str, Any] = {
            "shape": shape,
            "connections": n,
            "currencies": currencies,
            "role": role,
            "transfers": transfers,
            "body_bytes": len(bodies[0]),
            "world_load_ms": round(world_ms, 1),
        }
        if with_floor:
            self.log("   floor ...")
            case["floor"] = {
                k: round(v, 2) if isinstance(v, float) else v
                for k, v in floor.measure_median(
                    bodies[0], fixtures.partner_key(partner).public_key, repeats, self.workdir
                ).items()
            }
        url = server.base_url + STAGE_PATH.format(enterprise=enterprise)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        with httpx.Client(timeout=600) as client:
            times = []
            settlement_id = ""
            for body in bodies:
                ms, answer = _timed_post(client, url, body, headers)
                settlement_id = settlement_id or answer["settlement"]["id"]
                times.append(ms)
            case["staging_all_ms"] = [round(t, 1) for t in times]
            case["staging_ms"] = round(statistics.median(times), 1)
            case["settlement_id"] = settlement_id
            self.log(f"   staging {case['staging_ms']:,.0f} ms (median of {len(times)})")
            if with_floor:
                case["ratio"] = round(case["staging_ms"] / case["floor"]["total_ms"], 2)
                self.log(f"   floor {case['floor']['total_ms']:,.0f} ms, ratio {case['ratio']}")
            if role == "mid" and shape == "exchange":
                replays = [_timed_post(client, url, bodies[0], headers)[0] for _ in range(repeats)]
                replay_ms = statistics.median(replays)
                first = times[0]
                case["replay"] = {
                    "case": f"{shape} {n}x{currencies}",
                    "replay_ms": round(replay_ms, 1),
                    "replay_all_ms": [round(t, 1) for t in replays],
                    "first_staging_ms": round(first, 1),
                    "percent": round(100 * replay_ms / first, 1),
                }
                self.log(f"   replay {replay_ms:,.0f} ms = {case['replay']['percent']} %")
        case["loadavg"] = _load_average()
        return case

    # --- d: reads --------------------------------------------------------------------------
    def settlement_reads(
        self, server: servers.Server, settlement_id: str, transfers: int
    ) -> dict[str, Any]:
        size = 1000
        pages = max(1, -(-transfers // size))
        url = (
            server.base_url + READ_PATH.format(enterprise=EXCHANGE_ENTERPRISE) + "/" + settlement_id
        )
        headers = {"Authorization": f"Bearer {EXCHANGE_TOKEN}"}
        self.log(f"d. GET of the {transfers}-transfer settlement, {pages} pages of {size} ...")
        with httpx.Client(timeout=120) as client:

            def get(page: int) -> float:
                started = time.perf_counter()
                response = client.get(
                    url, headers=headers, params={"pageSize": size, "pageNumber": page}
                )
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code != 200:
                    raise RuntimeError(
                        f"GET settlement answered {response.status_code}: {response.text[:300]}"
                    )
                if page == pages - 1 and len(response.json()["settlementTransfers"]) == 0:
                    raise RuntimeError("the last page of transfers is empty")
                return elapsed

            first = statistics.median(get(0) for _ in range(5))
            last = statistics.median(get(pages - 1) for _ in range(5))
            started = time.perf_counter()
            for page in range(pages):
                get(page)
            walk = (time.perf_counter() - started) * 1000
        return {
            f"get_settlement_{transfers}_first_page_ms": round(first, 2),
            f"get_settlement_{transfers}_last_page_ms": round(last, 2),
            f"get_settlement_{transfers}_all_{pages}_pages_ms": round(walk, 1),
        }

    def list_reads(self, server: servers.Server, label: str) -> dict[str, Any]:
        db = self.workdir / f"{server.name}.db"
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            count = int(conn.execute("SELECT count(*) FROM settlements").fetchone()[0])
        url = server.base_url + READ_PATH.format(enterprise=EXCHANGE_ENTERPRISE)
        headers = {"Authorization": f"Bearer {EXCHANGE_TOKEN}"}
        size = 100
        last = max(0, (count - 1) // size)
        out: dict[str, Any] = {f"list_{label}_settlements_count": count}
        with httpx.Client(timeout=60) as client:
            for name, page in (("first", 0), ("last", last)):
                times = []
                for _ in range(5):
                    started = time.perf_counter()
                    response = client.get(
                        url, headers=headers, params={"pageSize": size, "pageNumber": page}
                    )
                    times.append((time.perf_counter() - started) * 1000)
                    if response.status_code != 200:
                        raise RuntimeError(f"GET list answered {response.status_code}")
                out[f"list_{label}_{name}_page_of_{size}_ms"] = round(statistics.median(times), 2)
        return out

    # --- e: start-up --------------------------------------------------------------------------
    def startup(self) -> None:
        if "e" not in self.o.only:
            return
        self.log("e. start-up of `oeskit serve` (3 times) ...")
        times = servers.startup_ms(self.workdir, repeats=3)
        e = self.results.setdefault("e", {})
        e["startup_ms"] = round(statistics.median(times), 1)
        e["startup_all_ms"] = [round(t, 1) for t in times]

    def run(self) -> dict[str, Any]:
        self.results["environment"] = environment()
        started = time.perf_counter()
        self.startup()  # first, on a quiet machine
        self.small()
        self.big()
        if "f" in self.o.only:
            self._ensure_load()
            self.results["f"] = postgres.run(self)
        self.results["environment"]["loadavg_end"] = _load_average()
        self.results["environment"]["wall_s"] = round(time.perf_counter() - started, 1)
        if self.wrk:
            self.results["environment"]["wrk"] = self.wrk
        return self.results


def _timed_post(
    client: httpx.Client, url: str, body: bytes, headers: dict[str, str]
) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    response = client.post(url, content=body, headers=headers)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"staging answered {response.status_code}: {response.text[:500]}")
    return elapsed, orjson.loads(response.content)


def run(options: Options, workdir: Path | None = None) -> dict[str, Any]:
    from bench import report

    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="oeskit-bench-") as tmp:
            return run(options, Path(tmp))
    results = Bench(options, workdir).run()
    results["targets"] = report.targets(results)
    results["quick"] = options.quick
    return results
