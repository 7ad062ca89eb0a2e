"""Two `oeskit serve` replicas on one PostgreSQL database: identical requests split across them
make one settlement each, a replica killed mid-burst leaves the other answering and the data
sound, and the clock advanced through one finalises what the other staged, once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from oeskit.cli import main
from oeskit.testing.postgres import PostgresServer
from oeskit.testing.server import Server, descendants, start_serve
from tests.conftest import ADMIN
from tests.reliability.support import ADMIN_HEADERS, PARTNER_HEADERS, STAGE_URL, signed_body

pytestmark = pytest.mark.slow

PAIRS = 100


@pytest.fixture
def replicas(postgres_server: PostgresServer, tmp_path: Path) -> Iterator[tuple[str, list[Server]]]:
    """A fresh schema and two replicas on it (each loads the demo world only if it is empty)."""
    url = postgres_server.url(schema="r" + uuid.uuid4().hex[:12])
    servers = [
        start_serve(tmp_path, url, admin=ADMIN, name=f"replica-{n}", timeout=60) for n in (1, 2)
    ]
    yield url, servers
    for server in servers:
        server.stop(timeout=10)


def _kill(server: Server) -> None:
    for pid in descendants(server.process.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=10)


def _doctor(url: str) -> str:
    result = CliRunner().invoke(main, ["doctor", "--db", url])
    assert result.exit_code == 0, result.output
    return result.output


async def _post(
    client: httpx.AsyncClient, base_url: str, body: dict[str, Any]
) -> httpx.Response | Exception:
    try:
        return await client.post(base_url + STAGE_URL, json=body, headers=PARTNER_HEADERS)
    except httpx.HTTPError as exc:
        return exc


def test_identical_requests_split_across_replicas_make_one_settlement_each(
    replicas: tuple[str, list[Server]],
) -> None:
    """200 requests at once, identical in pairs, one of each pair to each replica: every answer
    is 200, both of a pair name the same settlement, and the database holds one per
    externalId."""
    url, (one, two) = replicas
    bodies = [
        signed_body(f"pair-{n}", {"09684b38-49ed-4cf6-a28e-c3a459494c69": {"BTC": "-10"}})
        for n in range(PAIRS)
    ]

    async def burst() -> list[httpx.Response | Exception]:
        limits = httpx.Limits(max_connections=2 * PAIRS, max_keepalive_connections=0)
        async with httpx.AsyncClient(limits=limits, timeout=60) as client:
            return await asyncio.gather(
                *(_post(client, server.base_url, body) for body in bodies for server in (one, two))
            )

    answers = asyncio.run(burst())
    statuses = Counter(a.status_code if isinstance(a, httpx.Response) else repr(a) for a in answers)
    assert statuses == {200: 2 * PAIRS}, statuses
    for n in range(PAIRS):
        first, second = answers[2 * n], answers[2 * n + 1]
        assert isinstance(first, httpx.Response) and isinstance(second, httpx.Response)
        assert first.json()["settlement"]["id"] == second.json()["settlement"]["id"]
    listed = httpx.get(
        one.base_url + STAGE_URL.replace("/v2/", "/v1/"),
        params={"pageSize": 1000},
        headers=PARTNER_HEADERS,
        timeout=30,
    )
    external = Counter(s["externalId"] for s in listed.json()["settlements"])
    assert {e: c for e, c in external.items() if e.startswith("pair-")} == {
        f"pair-{n}": 1 for n in range(PAIRS)
    }
    assert _doctor(url).startswith("ok:")


def test_a_replica_killed_mid_burst_leaves_the_other_answering(
    replicas: tuple[str, list[Server]],
) -> None:
    """SIGKILL one replica while requests stream to both: every request the survivor gets is
    answered 200 (none 5xx), and afterwards the doctor finds nothing wrong."""
    url, (victim, survivor) = replicas
    bodies = [
        signed_body(f"burst-{n}", {"09684b38-49ed-4cf6-a28e-c3a459494c69": {"BTC": "-10"}})
        for n in range(160)
    ]

    async def burst() -> list[httpx.Response | Exception]:
        limits = httpx.Limits(max_connections=32)
        async with httpx.AsyncClient(limits=limits, timeout=60) as client:
            tasks = [
                asyncio.ensure_future(_post(client, server.base_url, body))
                for n, body in enumerate(bodies)
                for server in ((victim, survivor)[n % 2],)
            ]
            await asyncio.sleep(0.3)  # part of the burst is in flight
            _kill(victim)
            return list(await asyncio.gather(*tasks))

    answers = asyncio.run(burst())
    survivor_answers = answers[1::2]
    assert all(isinstance(a, httpx.Response) for a in survivor_answers), survivor_answers
    assert Counter(a.status_code for a in survivor_answers if isinstance(a, httpx.Response)) == {
        200: len(survivor_answers)
    }
    after = httpx.post(
        survivor.base_url + STAGE_URL,
        json=signed_body("after-the-kill"),
        headers=PARTNER_HEADERS,
        timeout=30,
    )
    assert after.status_code == 200, after.text
    assert _doctor(url).startswith("ok:")


def test_the_clock_advanced_through_one_replica_finalises_the_others_settlement_once(
    replicas: tuple[str, list[Server]],
) -> None:
    """A settlement staged through replica 2; the clock advanced through replica 1: the
    settlement completes, each of its jobs ran once, and one completion event is written."""
    _, (one, two) = replicas
    staged = httpx.post(
        two.base_url + STAGE_URL, json=signed_body("clock-1"), headers=PARTNER_HEADERS, timeout=30
    )
    assert staged.status_code == 200, staged.text
    settlement_id = staged.json()["settlement"]["id"]
    advanced = httpx.post(
        one.base_url + "/sandbox/clock",
        json={"advanceMinutes": 180},
        headers=ADMIN_HEADERS,
        timeout=30,
    )
    assert advanced.status_code == 200, advanced.text
    seen = httpx.get(
        two.base_url + STAGE_URL.replace("/v2/", "/v1/") + f"/{settlement_id}",
        headers=PARTNER_HEADERS,
        timeout=30,
    )
    assert seen.json()["settlement"]["status"] == "completed", seen.text
    jobs = httpx.get(two.base_url + "/sandbox/jobs", headers=ADMIN_HEADERS, timeout=30).json()
    mine = [j for j in jobs["jobs"] if j["settlementId"] == settlement_id]
    assert sorted(j["kind"] for j in mine) == ["close_dispute_window", "execute"]
    assert all(j["status"] == "done" and j["attempts"] == 1 for j in mine), mine
    events = httpx.get(
        one.base_url + "/sandbox/outbox",
        params={"settlementId": settlement_id, "type": "settlement.completed"},
        headers=ADMIN_HEADERS,
        timeout=30,
    ).json()
    assert len(events["events"]) == 1, events
