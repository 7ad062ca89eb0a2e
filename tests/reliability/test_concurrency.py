"""Four worker processes on one database: identical and conflicting stagings race safely, and
the finalizer runs each due job exactly once across them."""

from __future__ import annotations

import asyncio
import copy
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ALPHA, BETA, EXCHANGE, LiveServer, start_server, stop_server
from tests.reliability.support import (
    ADMIN_HEADERS,
    PARTNER_HEADERS,
    STAGE_URL,
    WORLD,
    connect,
    doctor,
    held_mismatches,
    signed_body,
    wait_jobs_done,
)

# One worker runs the module in order: the last checks balance the books of the races before it,
# on the module's one server (split across xdist workers, it met a server that saw no race).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("concurrency")]

IDS = 50
COPIES = 4


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("concurrency"), workers=4)
    yield server
    stop_server(server)


async def _blast(
    server: LiveServer, bodies: list[tuple[str, dict[str, Any]]]
) -> list[tuple[str, httpx.Response]]:
    limits = httpx.Limits(max_connections=len(bodies), max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=server.base_url, limits=limits, timeout=60) as client:
        responses = await asyncio.gather(
            *(client.post(STAGE_URL, json=body, headers=PARTNER_HEADERS) for _, body in bodies)
        )
    return list(zip([key for key, _ in bodies], responses, strict=True))


def _assert_no_server_error(results: list[tuple[str, httpx.Response]]) -> None:
    for _, response in results:
        assert response.status_code in (200, 409, 503), response.text
        if response.status_code == 503:
            assert response.headers["Retry-After"] and response.json()["rule"] == "OES-SRV-002"


def test_identical_requests_at_once_make_one_settlement_each(server: LiveServer) -> None:
    """50 externalIds sent 4 times at once, identically: 50 settlements, one id per externalId."""
    bodies = []
    for n in range(IDS):
        body = signed_body(
            f"same-{n}", {ALPHA: {"BTC": f"-{100 + n}", "ETH": "5"}, BETA: {"USDC": f"-{1 + n}"}}
        )
        bodies += [(f"same-{n}", body)] * COPIES
    results = asyncio.run(_blast(server, bodies))
    _assert_no_server_error(results)
    ids: dict[str, set[str]] = defaultdict(set)
    for key, response in results:
        if response.status_code == 200:
            ids[key].add(response.json()["settlement"]["id"])
    statuses = Counter(r.status_code for _, r in results)
    assert statuses[409] == 0, statuses
    assert all(len(found) == 1 for found in ids.values()), ids
    assert len(ids) == IDS  # every externalId got at least one 200 (503s are retriable extras)
    conn = connect(server.db)
    rows = dict(
        conn.execute(
            "SELECT external_id, id FROM settlements WHERE external_id LIKE 'same-%'"
        ).fetchall()
    )
    conn.close()
    assert len(rows) == IDS
    assert {key: {sid} for key, sid in rows.items()} == dict(ids)
    assert held_mismatches(server.db) == []


def test_conflicting_requests_at_once_make_one_winner(server: LiveServer) -> None:
    """The same externalId with 4 different bodies at once: exactly one 200, the rest 409."""
    bodies = [
        (
            f"clash-{n}",
            signed_body(f"clash-{n}", {ALPHA: {"BTC": f"-{10 + copy}"}}, notes=f"variant {copy}"),
        )
        for n in range(20)
        for copy in range(COPIES)
    ]
    results = asyncio.run(_blast(server, bodies))
    _assert_no_server_error(results)
    per_key: dict[str, Counter[int]] = defaultdict(Counter)
    for key, response in results:
        per_key[key][response.status_code] += 1
        if response.status_code == 409:
            body = response.json()
            assert body["rule"] == "OES-IDEM-002" and body["settlementId"], body
    assert all(c[200] == 1 and c[409] + c[503] == COPIES - 1 for c in per_key.values()), per_key
    conn = connect(server.db)
    count = conn.execute("SELECT COUNT(*) FROM settlements WHERE external_id LIKE 'clash-%'")
    assert count.fetchone()[0] == 20
    conn.close()


def test_after_the_races_the_books_balance(server: LiveServer, tmp_path: Path) -> None:
    """held = sum of holds of open settlements = their liabilities; the doctor finds nothing;
    no request of the run was answered with a 5xx other than 503."""
    assert held_mismatches(server.db) == []
    summary = doctor(server.db)
    assert summary.violations == ()
    assert summary.settlements >= IDS + 20
    conn = connect(server.db)
    errors = conn.execute(
        "SELECT status, rule, COUNT(*) FROM request_log WHERE status >= 500 "
        "AND status != 503 GROUP BY status, rule"
    ).fetchall()
    conn.close()
    assert [tuple(e) for e in errors] == []


COUNT = 120


async def _stage_and_run(base_url: str) -> Counter[int]:
    statuses: Counter[int] = Counter()
    limits = httpx.Limits(max_connections=32)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
        gate = asyncio.Semaphore(16)

        async def stage(n: int) -> None:
            body = signed_body(f"zero-{n}", {ALPHA: {"BTC": "-20"}, BETA: {"BTC": f"{n + 1}"}})
            async with gate:
                response = await client.post(STAGE_URL, json=body, headers=PARTNER_HEADERS)
            statuses[response.status_code] += 1

        async def run_jobs() -> None:
            for _ in range(20):
                response = await client.post("/sandbox/jobs/run", headers=ADMIN_HEADERS)
                statuses[response.status_code] += 1
                await asyncio.sleep(0.05)

        await asyncio.gather(*(stage(n) for n in range(COUNT)), *(run_jobs() for _ in range(4)))
    return statuses


def test_zero_windows_finalize_each_settlement_exactly_once(server: LiveServer) -> None:
    """With 0-minute windows, 4 workers' job loops plus explicit runs race on 240 due jobs:
    every job has attempts == 1 and each settlement has one settlement.completed event."""
    world = copy.deepcopy(WORLD)
    exchange = next(p for p in world["partners"] if p["id"] == EXCHANGE)
    exchange["clientDisputeWindowMinutes"] = 0
    exchange["topUpWindowMinutes"] = 0
    # Runs last in this module: loading a world replaces the state the races above left.
    loaded = httpx.post(
        server.base_url + "/sandbox/world", json=world, headers=ADMIN_HEADERS, timeout=30
    )
    assert loaded.status_code == 200, loaded.text
    statuses = asyncio.run(_stage_and_run(server.base_url))
    assert set(statuses) <= {200, 503}, statuses
    jobs = wait_jobs_done(server)
    staged = statuses[200] - 4 * 20  # the 80 job runs answered 200 as well
    conn = connect(server.db)
    settlements = conn.execute(
        "SELECT id, status, finalized_at FROM settlements WHERE external_id LIKE 'zero-%'"
    ).fetchall()
    completed = Counter(
        r[0]
        for r in conn.execute(
            "SELECT settlement_id FROM outbox WHERE type = 'settlement.completed'"
        )
    )
    finalize = Counter(
        r[0]
        for r in conn.execute("SELECT settlement_id FROM outbox WHERE type = 'settlement.finalize'")
    )
    attempts = Counter((r[0], r[1]) for r in conn.execute("SELECT status, attempts FROM jobs"))
    workers = {r[0] for r in conn.execute("SELECT DISTINCT worker FROM jobs")}
    conn.close()
    assert len(settlements) == staged == COUNT
    assert {s[1] for s in settlements} == {"completed"} and all(s[2] for s in settlements)
    assert all(completed[s[0]] == 1 and finalize[s[0]] == 1 for s in settlements)
    assert attempts == Counter({("done", 1): 2 * COUNT}), attempts
    assert len(jobs) == 2 * COUNT
    assert len(workers) >= 2, workers  # the jobs really were shared between processes
    assert doctor(server.db).violations == ()
