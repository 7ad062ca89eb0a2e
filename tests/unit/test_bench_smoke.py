"""The benchmark runner (bench/) at a tiny size, so it cannot rot between `make bench` runs.

Needs neither wrk nor npm: the load comes from bench.load's Python/httpx FALLBACK generator,
which exists for this test only (its numbers are not the benchmark's).
"""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
import pytest

from oeskit.testing.postgres import PostgresServer

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `bench` is a top-level package beside src/, not installed
    sys.path.insert(0, str(ROOT))

from bench import cli, fixtures, floor, load, postgres, report, runner, servers  # noqa: E402

pytestmark = pytest.mark.timeout(60)


def test_cli_flags() -> None:
    options, _ = cli.parse(["--quick", "--skip-prism", "--only", "a,c"])
    assert options.quick and options.skip_prism and options.duration == 2.0
    assert options.only == {"a", "c"} and options.cases == runner.QUICK_CASES
    with pytest.raises(SystemExit):
        cli.parse(["--only", "z"])


def test_bodies_are_signed_and_one_per_line(tmp_path: Path) -> None:
    path = tmp_path / "bodies.jsonl"
    assert fixtures.write_bodies(path, fixtures.small_bodies("t", 3)) == 3
    lines = path.read_bytes().splitlines()
    bodies = [orjson.loads(line) for line in lines]
    assert [b["externalId"] for b in bodies] == ["t-0", "t-1", "t-2"]
    assert all(
        orjson.loads(b["payload"])["settlementAmounts"] == fixtures.SMALL_AMOUNTS for b in bodies
    )


def test_wrk_summary_parses_the_lua_line() -> None:
    raw = {
        "requests": 100,
        "duration_us": 2_000_000,
        "bytes": 0,
        "connect_errors": 0,
        "read_errors": 0,
        "write_errors": 0,
        "status_errors": 1,
        "timeouts": 0,
        "p50_us": 1500,
        "p90_us": 2000,
        "p99_us": 9000,
        "max_us": 12000,
        "mean_us": 1.0,
        "wraps": 0,
    }
    summary = load.summarize(raw, "wrk")
    assert summary["rps"] == 50.0 and summary["p99_ms"] == 9.0 and summary["errors"] == 1
    assert "BENCHJSON" in load.WRK_LUA and "io.lines" in load.WRK_LUA


def test_floor_writes_every_transfer_row(tmp_path: Path) -> None:
    world = fixtures.world(0, 4)
    ids = fixtures.connection_ids(world, fixtures.BROKER)
    body = fixtures.signed_body("floor", fixtures.broker_amounts(ids, 2), fixtures.BROKER)
    result = floor.measure(body, fixtures.partner_key(fixtures.BROKER).public_key, tmp_path)
    assert result["rows"] == 8 and result["total_ms"] > 0
    assert any("CREATE TABLE transfers" in s for s in floor.transfers_ddl())


def test_runner_against_a_live_sandbox(tmp_path: Path) -> None:
    lines: list[str] = []
    # Half a second of load per run: enough for requests without errors, which is what this
    # test checks (the figures are the benchmark's business).
    options = runner.Options(
        duration=0.5, repeats=1, python_load=True, connections=(4,), log=lines.append
    )
    bench = runner.Bench(options, tmp_path)
    server = servers.start_sandbox(tmp_path)
    try:
        servers.post_world(server, fixtures.world(2))
        url = server.base_url + fixtures.STAGE_PATH.format(enterprise=fixtures.EXCHANGE_ENTERPRISE)
        bodies = list(fixtures.small_bodies("smoke", 400))
        run = bench._load(url, bodies, fixtures.EXCHANGE_TOKEN, 4)
        assert run["generator"].startswith("python-httpx FALLBACK")
        assert run["requests"] > 0 and run["errors"] == 0, run
        bench.results["a"] = {"sandbox_1w": {"c4": run}}
        bench.results["b"] = bench.replay_small(server, url)
        assert bench.results["b"]["errors"] == 0

        case = bench.big_case(server, "exchange", 30, "mid", with_floor=True)
        assert case["transfers"] == 150 and case["floor"]["rows"] == 150
        assert case["ratio"] > 0 and case["replay"]["percent"] > 0
        reads = bench.settlement_reads(server, case["settlement_id"], case["transfers"])
        reads.update(bench.list_reads(server, "smoke"))
        assert reads["list_smoke_settlements_count"] >= 1
        assert server.rss_kb() > 0
    finally:
        server.stop()
    bench.results["c"] = {"replay": case.pop("replay"), "cases": [case]}
    bench.results["d"] = reads
    targets = report.targets(bench.results)
    assert {t["target"] for t in targets if t["ok"] is not None} >= {
        "30x5 exchange staging / floor",
        "replay of 30x5 exchange / its staging",
    }
    bench.results["targets"] = targets
    assert "targets (issue #4)" in report.table(bench.results)
    assert report.write(bench.results, tmp_path / "results").exists()


def test_postgres_section_runs(tmp_path: Path, postgres_server: PostgresServer) -> None:
    """Section f at a tiny size, on the session's PostgreSQL server (schemas of its own): 1 and
    2 replicas on one PostgreSQL database answer the small load without errors, the big staging
    is timed, and the report shows both targets."""
    lines: list[str] = []
    options = runner.Options(
        duration=0.5, repeats=1, quick=True, python_load=True, connections=(4,), log=lines.append
    )
    bench = runner.Bench(options, tmp_path)
    section = postgres.run(bench, postgres_server)
    assert section["replicas_1"]["errors"] == 0 and section["replicas_1"]["rps"] > 0, section
    assert section["replicas_2"]["errors"] == 0 and len(section["replicas_2"]["per_replica"]) == 2
    assert section["big"]["transfers"] == 400 * 5 and section["big"]["staging_ms"] > 0
    bench.results["f"] = section
    bench.results["targets"] = report.targets(bench.results)
    table = report.table(bench.results)
    assert "f. PostgreSQL store" in table
    assert "PostgreSQL, 2 replicas vs 1 replica" in table
