"""Section f: the sandbox on PostgreSQL (issue #21), beside SQLite's figures of sections a and c:
small signed staging at 32 connections on 1 replica and on 2 replicas (16 connections to each
port at once, one database), and the 10k x 5 big staging. The server is a throwaway one started
from the PostgreSQL binaries (oeskit.testing.postgres); without them the section says so."""

from __future__ import annotations

import statistics
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import httpx

from bench import fixtures, servers
from bench.fixtures import EXCHANGE, EXCHANGE_ENTERPRISE, EXCHANGE_TOKEN, STAGE_PATH
from oeskit.testing.postgres import PostgresMissing, PostgresServer, start_postgres

if TYPE_CHECKING:
    from bench.runner import Bench

BIG_CONNECTIONS = 10_000


def run(bench: Bench, database: PostgresServer | None = None) -> dict[str, Any]:
    """Section f on `database` (each part in a schema of its own), or on a server of its own,
    started and stopped here, when none is given."""
    own = database is None
    if database is None:
        try:
            database = start_postgres()
        except PostgresMissing as exc:
            bench.log(f"!! f. {exc}: skipping the PostgreSQL section")
            return {"skipped": str(exc)}
    try:
        out: dict[str, Any] = {}
        if bench.wrk is None and not bench.o.python_load:
            out["load_skipped"] = "no load generator"
        else:
            out["replicas_1"] = _small(bench, database, replicas=1)
            out["replicas_2"] = _small(bench, database, replicas=2)
        out["big"] = _big(bench, database)
        return out
    finally:
        if own:
            database.stop()


def _url(database: PostgresServer, label: str) -> str:
    return database.url(schema=f"bench_{label}_{uuid.uuid4().hex[:8]}")


def _small(bench: Bench, database: PostgresServer, *, replicas: int) -> dict[str, Any]:
    """Small signed stagings at 32 connections in all, spread evenly over the replicas."""
    url = _url(database, f"{replicas}r")
    # The replicas boot side by side (~1.5 s each on a 2-core machine, one after the other).
    with ThreadPoolExecutor(replicas) as pool:
        booting = [
            pool.submit(servers.start_sandbox, bench.workdir, name=f"pg-{replicas}r-{n}", db=url)
            for n in range(replicas)
        ]
    started = [future.result() for future in booting if future.exception() is None]
    failed = [exc for future in booting if (exc := future.exception()) is not None]
    if failed:
        for server in started:
            server.stop()
        raise failed[0]
    try:
        servers.post_world(started[0], fixtures.world(2))
        for server in started:
            bench._warm(server, server.name)
        total = max(bench.o.connections)
        each = total // replicas
        bench.log(
            f"f. PostgreSQL, {replicas} replica(s): {total} connection(s) "
            f"({each} to each), {bench.o.duration:g} s ..."
        )
        runs: list[dict[str, Any]] = [{} for _ in started]

        def drive(n: int, server: servers.Server) -> None:
            bodies = bench._small_file(f"pg-{replicas}r-{n}")
            stage = server.base_url + STAGE_PATH.format(enterprise=EXCHANGE_ENTERPRISE)
            runs[n] = bench._load(stage, bodies, EXCHANGE_TOKEN, each)

        threads = [
            threading.Thread(target=drive, args=(n, server)) for n, server in enumerate(started)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for n, run_ in enumerate(runs):
            bench._check_load(f"pg-{replicas}r-{n}", run_, unique=True)
        merged = {
            "rps": round(sum(r["rps"] for r in runs), 1),
            "p50_ms": max(r["p50_ms"] for r in runs),
            "p99_ms": max(r["p99_ms"] for r in runs),
            "errors": sum(r["errors"] for r in runs),
            "connections": total,
            "per_replica": runs,
        }
        bench.log(f"   {replicas} replica(s): {merged['rps']:,.0f} req/s in all")
        return merged
    finally:
        for server in started:
            server.stop()


def _big(bench: Bench, database: PostgresServer) -> dict[str, Any]:
    """The 10k x 5 exchange staging (50,000 transfers), median of the repeats."""
    n = BIG_CONNECTIONS if not bench.o.quick else 400
    currencies = bench.o.currencies
    server = servers.start_sandbox(bench.workdir, name="pg-big", db=_url(database, "big"))
    try:
        world = fixtures.world(n)
        ids = fixtures.connection_ids(world, EXCHANGE)
        amounts = fixtures.exchange_amounts(ids, currencies)
        bench.log(f"f. PostgreSQL big staging {n} x {currencies}: loading the world ...")
        world_ms = servers.post_world(server, world)
        del world
        bodies = [
            fixtures.signed_body(f"{bench.run_id}-pg-big-{r}", amounts, EXCHANGE)
            for r in range(max(1, bench.o.repeats))
        ]
        stage = server.base_url + STAGE_PATH.format(enterprise=EXCHANGE_ENTERPRISE)
        headers = {"Authorization": f"Bearer {EXCHANGE_TOKEN}", "Content-Type": "application/json"}
        from bench.runner import _timed_post

        with httpx.Client(timeout=600) as client:
            times = [_timed_post(client, stage, body, headers)[0] for body in bodies]
        staging_ms = round(statistics.median(times), 1)
        bench.log(f"   staging {staging_ms:,.0f} ms (median of {len(times)})")
        return {
            "connections": n,
            "currencies": currencies,
            "transfers": n * currencies,
            "staging_ms": staging_ms,
            "staging_all_ms": [round(t, 1) for t in times],
            "world_load_ms": round(world_ms, 1),
        }
    finally:
        server.stop()
