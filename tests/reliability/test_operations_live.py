"""The operations surface of a real `oeskit serve`: configuration by environment, JSON logs
without secrets, metrics across worker processes, and a graceful stop on SIGTERM."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import click
import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from oeskit.cli.serve import serve
from oeskit.testing.server import HOST, free_port, spawn
from tests.conftest import ADMIN, DEMO, LiveServer, start_server, stop_server
from tests.reliability.support import (
    ADMIN_HEADERS,
    PARTNER_HEADERS,
    STAGE_URL,
    WORLD,
    connect,
    doctor,
    signed_body,
)

STAGING_ROUTE = "/api/network/v2/enterprises/{enterpriseId}/partners/settlements"


def _params(args: list[str]) -> dict[str, Any]:
    with serve.make_context("serve", args) as ctx:
        return dict(ctx.params)


# Every option of `serve` with a value for its variable, and what the option becomes.
ENV_CASES = [
    ("OESKIT_HOST", "0.0.0.0", "host", "0.0.0.0"),  # noqa: S104 - only parsed, never bound
    ("OESKIT_PORT", "9123", "port", 9123),
    ("OESKIT_DB", "/data/x.db", "db", "/data/x.db"),
    ("OESKIT_FRESH", "true", "fresh", True),
    ("OESKIT_WORKERS", "3", "workers", 3),
    ("OESKIT_ADMIN_TOKEN", "tok-from-env", "admin_token", "tok-from-env"),
    ("OESKIT_CLOCK", "frozen", "clock", "frozen"),
    ("OESKIT_BODY_LIMIT", "1000", "body_limit", 1000),
    ("OESKIT_BODY_TIMEOUT", "2.5", "body_timeout", 2.5),
    ("OESKIT_MAX_NAMESPACES", "0", "max_namespaces", 0),
    ("OESKIT_VALIDATE_RESPONSES", "1", "validate_responses", True),
    ("OESKIT_LOG_LEVEL", "debug", "log_level", "debug"),
    ("OESKIT_LOG_FORMAT", "json", "log_format", "json"),
    ("OESKIT_SHUTDOWN_TIMEOUT", "3", "shutdown_timeout", 3.0),
]


@pytest.mark.parametrize(("var", "raw", "param", "value"), ENV_CASES, ids=[c[0] for c in ENV_CASES])
def test_every_serve_option_reads_its_variable(
    monkeypatch: pytest.MonkeyPatch, var: str, raw: str, param: str, value: object
) -> None:
    """OESKIT_<OPTION> sets the option when the command line does not."""
    monkeypatch.setenv(var, raw)
    assert _params([])[param] == value


def test_world_reads_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """OESKIT_WORLD names a packaged world (or a file) like --world."""
    monkeypatch.setenv("OESKIT_WORLD", "demo")
    assert Path(_params([])["world_path"]).name == "demo.yaml"


def test_flags_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A flag on the command line wins over its variable."""
    monkeypatch.setenv("OESKIT_PORT", "9123")
    monkeypatch.setenv("OESKIT_LOG_FORMAT", "json")
    params = _params(["--port", "9999", "--log-format", "text"])
    assert (params["port"], params["log_format"]) == (9999, "text")


def test_a_bad_variable_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A variable's value is checked like the flag's, naming the variable's option."""
    monkeypatch.setenv("OESKIT_WORKERS", "0")
    with pytest.raises(click.BadParameter, match="1<=x<=64") as refused:
        _params([])
    assert refused.value.param is not None and refused.value.param.name == "workers"


def test_help_names_every_variable() -> None:
    """`oeskit serve --help` shows each option's variable beside it."""
    out = subprocess.run(
        [sys.executable, "-m", "oeskit", "serve", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    flat = " ".join(out.split())
    for var in [c[0] for c in ENV_CASES] + ["OESKIT_WORLD"]:
        assert f"env var: {var}" in flat, var
    for option in serve.params:
        assert isinstance(option, click.Option)
        assert option.show_envvar and option.envvar, option.name


def _families(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


@pytest.mark.slow
def test_json_logs_hold_no_secret(tmp_path: Path) -> None:
    """With --log-format json every line is one JSON object; request lines carry time, level,
    request id, route, status, duration and rule; after a world load and signed stagings (good,
    replayed, conflicting, forged) neither the admin token, the tokens, the keys nor a
    signature appears anywhere in the output."""
    server = start_server(tmp_path, extra=("--log-format", "json"))
    bodies = []
    try:
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            world = http.post("/sandbox/world", headers=ADMIN_HEADERS, json=WORLD)
            assert world.status_code == 200, world.text
            body = signed_body("json-1")
            bodies.append(body)
            assert http.post(STAGE_URL, headers=PARTNER_HEADERS, json=body).status_code == 200
            assert http.post(STAGE_URL, headers=PARTNER_HEADERS, json=body).status_code == 200
            changed = signed_body("json-1", notes="other")
            bodies.append(changed)
            refused = http.post(STAGE_URL, headers=PARTNER_HEADERS, json=changed)
            assert refused.json()["rule"] == "OES-IDEM-002"
            forged = {**signed_body("json-2"), "signature": "ab" * 64}
            assert http.post(STAGE_URL, headers=PARTNER_HEADERS, json=forged).status_code == 401
            bad_token = http.post(STAGE_URL, headers={"Authorization": "Bearer wrong-tok"}, json={})
            assert bad_token.status_code == 401
    finally:
        stop_server(server)
    output = server.log_path.read_text()
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    requests = [line for line in lines if line["logger"] == "oeskit.access"]
    stagings = [line for line in requests if line["route"] == STAGING_ROUTE]
    assert [(line["status"], line["rule"]) for line in stagings] == [
        (200, None),
        (200, None),
        (409, "OES-IDEM-002"),
        (401, "OES-SIG-004"),
        (401, "OES-AUTH-001"),
    ]
    for line in requests:
        assert {"time", "level", "requestId", "route", "status", "durationMs", "rule"} <= set(line)
    secrets = [ADMIN, "wrong-tok"] + [t["token"] for t in WORLD["tokens"]]
    for partner in WORLD["partners"]:
        for key in partner.get("signingKeys", []):
            if isinstance(key, dict):
                secrets += [key["publicKey"], key.get("privateKey") or key["publicKey"]]
    secrets += [b["signature"] for b in bodies]
    leaked = [secret for secret in secrets if secret in output]
    assert not leaked


@pytest.mark.slow
def test_metrics_add_up_across_workers(tmp_path: Path) -> None:
    """With --workers 2, every scrape counts the requests of both workers (prometheus-client's
    multiprocess mode): ten stagings read ten, whichever worker answers the scrape."""
    server = start_server(tmp_path, workers=2)
    try:
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            for index in range(10):
                body = signed_body(f"mp-{index}")
                assert http.post(STAGE_URL, headers=PARTNER_HEADERS, json=body).status_code == 200
            counts = set()
            for _ in range(6):
                # A new connection each time, so the scrapes spread over the workers.
                text = httpx.get(server.base_url + "/metrics", timeout=30).text
                family = _families(text)["oeskit_stagings"]
                counts.add(
                    sum(s.value for s in family.samples if s.labels.get("outcome") == "created")
                )
    finally:
        stop_server(server)
    assert counts == {10}


def _stage_until_stopped(
    base_url: str, answers: list[tuple[str, int]], stop: threading.Event
) -> None:
    with httpx.Client(base_url=base_url, timeout=30) as http:
        index = 0
        while not stop.is_set():
            index += 1
            external = f"term-{threading.get_ident()}-{index}"
            try:
                response = http.post(STAGE_URL, headers=PARTNER_HEADERS, json=signed_body(external))
            except httpx.HTTPError:
                continue  # refused or cut while the server stops: not answered, fine
            answers.append((external, response.status_code))


@pytest.mark.slow
def test_sigterm_finishes_requests_in_flight_and_exits_zero(tmp_path: Path) -> None:
    """SIGTERM under load: the server stops accepting, answers what it took, exits 0; every
    settlement answered 200 is in the database and its invariants hold (nothing half written)."""
    server = start_server(tmp_path)
    answers: list[tuple[str, int]] = []
    stop = threading.Event()
    threads = [
        threading.Thread(target=_stage_until_stopped, args=(server.base_url, answers, stop))
        for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    time.sleep(0.5)  # six clients staging: ~85 answered in a run (1 s before), more in flight
    server.process.send_signal(signal.SIGTERM)
    started = time.monotonic()
    code = server.process.wait(timeout=15)
    took = time.monotonic() - started
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    assert code == 0
    assert took < 10
    assert answers and {status for _, status in answers} == {200}
    conn = connect(server.db)
    try:
        stored = {row[0] for row in conn.execute("SELECT external_id FROM settlements")}
    finally:
        conn.close()
    assert {external for external, _ in answers} <= stored
    assert not doctor(server.db).violations


@pytest.mark.slow
def test_sigterm_waits_for_a_slow_request_no_longer_than_the_timeout(tmp_path: Path) -> None:
    """A request still in flight when the shutdown timeout ends is cancelled: the server exits
    0 about --shutdown-timeout after SIGTERM, not when the slow client would have finished."""
    server = start_server(tmp_path, extra=("--shutdown-timeout", "1", "--body-timeout", "60"))
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as slow:
        slow.sendall(
            f"POST {STAGE_URL} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Authorization: Bearer demo-exchange-token\r\nContent-Length: 1000\r\n\r\n{".encode()
        )
        time.sleep(0.3)  # the request is in the server's hands, its body still coming
        server.process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code = server.process.wait(timeout=20)
        took = time.monotonic() - started
    assert code == 0
    assert 0.8 < took < 5


def test_start_record_in_json_has_no_token(tmp_path: Path) -> None:
    """In JSON mode the banner is one log record: the URL and settings, no token or key, and
    no admin token is made up (it could only be read from the log)."""
    port = free_port()
    process, log_path = spawn(
        "json-start",
        [
            sys.executable,
            "-m",
            "oeskit",
            "serve",
            "--port",
            str(port),
            "--db",
            str(tmp_path / "j.db"),
            "--world",
            str(DEMO),
            "--log-format",
            "json",
        ],
        tmp_path,
    )
    server = LiveServer("json-start", process, f"http://{HOST}:{port}", log_path, db=tmp_path)
    try:
        server.wait_ready("/readyz", timeout=30)
        control = httpx.get(server.base_url + "/sandbox/clock", timeout=10)
        assert control.status_code == 404  # no control plane: no token was given
    finally:
        stop_server(server)
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    start = lines[0]
    assert start["logger"] == "oeskit" and "control plane off" in start["message"]
    world = yaml.safe_load(DEMO.read_text())
    for token in world["tokens"]:
        assert token["token"] not in log_path.read_text()
