"""Against a real `oeskit serve`: a request held by a latency fault stops waiting when its
client goes away or when the server is told to stop (issue 10: SIGTERM used to wait out a
60 s fault)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import start_server, stop_server
from tests.reliability.support import ADMIN_HEADERS, PARTNER_HEADERS

pytestmark = pytest.mark.slow

BALANCES = "/api/network/v1/enterprises/ent-exchange/partners/balances"
DELAY_MS = 60_000


def _arm(base_url: str) -> None:
    armed = httpx.post(
        base_url + "/sandbox/faults",
        json={"kind": "latency", "milliseconds": DELAY_MS},
        headers=ADMIN_HEADERS,
        timeout=10,
    )
    assert armed.status_code == 200, armed.text


def _held_request(base_url: str, timeout: float, outcome: dict[str, object]) -> threading.Thread:
    def run() -> None:
        try:
            response = httpx.get(base_url + BALANCES, headers=PARTNER_HEADERS, timeout=timeout)
            outcome["status"] = response.status_code
        except httpx.HTTPError as exc:
            outcome["error"] = repr(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    time.sleep(0.5)  # the request has reached the fault layer and is held
    return thread


def test_sigterm_does_not_wait_out_a_held_request(tmp_path: Path) -> None:
    """SIGTERM while a request is held by a 60 s latency fault: the hold ends at once, the
    request is answered, and the process exits in a few seconds."""
    server = start_server(tmp_path)
    try:
        _arm(server.base_url)
        outcome: dict[str, object] = {}
        thread = _held_request(server.base_url, 90, outcome)
        started = time.monotonic()
        server.process.terminate()
        server.process.wait(timeout=DELAY_MS / 1000)
        elapsed = time.monotonic() - started
        thread.join(timeout=10)
    finally:
        stop_server(server)
    assert elapsed < 5, elapsed
    assert outcome == {"status": 200}


def test_client_that_leaves_ends_the_hold(tmp_path: Path) -> None:
    """A client that gives up after 1 s ends the hold: the request log shows the request
    finished in about a second, not after the fault's 60 s."""
    server = start_server(tmp_path)
    try:
        _arm(server.base_url)
        outcome: dict[str, object] = {}
        _held_request(server.base_url, 1, outcome).join(timeout=10)
        assert "error" in outcome, outcome  # the client timed out
        deadline = time.monotonic() + 10
        held: list[dict[str, object]] = []
        while not held and time.monotonic() < deadline:
            logged = httpx.get(
                server.base_url + "/sandbox/requests", headers=ADMIN_HEADERS, timeout=10
            )
            held = [r for r in logged.json()["requests"] if r["path"] == BALANCES]
            time.sleep(0 if held else 0.05)
    finally:
        stop_server(server)
    assert held, "the held request never finished"
    assert float(str(held[0]["durationMs"])) < 5000, held
