"""Against a real `oeskit serve`: slow and oversized clients are cut off while the server stays
healthy, and no secret reaches the server's log or the request log."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import ALPHA, LiveServer, start_server, stop_server
from tests.reliability.support import (
    ADMIN_HEADERS,
    PARTNER_HEADERS,
    STAGE_URL,
    server_log,
    signed_body,
)

pytestmark = pytest.mark.slow
# `--body-timeout`: shorter than the default 10 s, which proves the option (it was 3 s: the
# stalled-body test waited it out; 1.5 s still tells the option's bound from an early close).
BODY_TIMEOUT_S = 1.5


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(
        tmp_path_factory.mktemp("edges"),
        extra=("--log-level", "debug", "--body-timeout", str(BODY_TIMEOUT_S)),
    )
    yield server
    stop_server(server)


def _raw(server: LiveServer, head: bytes, body: bytes = b"") -> socket.socket:
    host, port = server.base_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=BODY_TIMEOUT_S + 10)
    sock.sendall(head + body)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    sock.close()
    return b"".join(chunks)


def _healthy(server: LiveServer) -> bool:
    return (
        httpx.get(server.base_url + "/sandbox/clock", headers=ADMIN_HEADERS, timeout=5).status_code
        == 200
    )


def _head(length: int, extra: bytes = b"") -> bytes:
    return (
        (
            f"POST {STAGE_URL} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer demo-exchange-token\r\nContent-Length: {length}\r\n"
        ).encode()
        + extra
        + b"\r\n"
    )


def test_stalled_body_is_answered_408_and_server_stays_up(server: LiveServer) -> None:
    """Headers plus 10 bytes of a 1000-byte body, then silence: 408 within the body timeout
    set with `--body-timeout`, the connection closed, and other clients served meanwhile."""
    started = time.monotonic()
    sock = _raw(server, _head(1000), b'{"externalI')
    assert _healthy(server)  # the stalled client does not block the worker
    answer = _read_all(sock)
    elapsed = time.monotonic() - started
    assert BODY_TIMEOUT_S - 0.5 <= elapsed <= BODY_TIMEOUT_S + 5, elapsed
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b'"rule":"OES-REQ-007"' in answer and b"did not arrive within 1.5 s" in answer
    assert _healthy(server)


def test_declared_huge_body_is_413_at_once(server: LiveServer) -> None:
    """A Content-Length above 32 MiB is refused before any byte of the body is read."""
    started = time.monotonic()
    answer = _read_all(_raw(server, _head(10**12)))
    assert time.monotonic() - started < 5
    assert answer.startswith(b"HTTP/1.1 413 ") and b'"rule":"OES-REQ-003"' in answer
    assert _healthy(server)


def test_oversized_headers_are_refused(server: LiveServer) -> None:
    """A 100 KB header is refused by the HTTP parser (4xx, connection closed), never a 5xx."""
    answer = _read_all(_raw(server, _head(2, b"X-Big: " + b"a" * 100_000 + b"\r\n"), b"{}"))
    status = int(answer.split(b" ", 2)[1]) if answer else 0
    assert answer == b"" or 400 <= status < 500, answer[:200]
    assert _healthy(server)


def test_no_secret_in_server_log_or_request_log(server: LiveServer) -> None:
    """After signed stagings, rejected tokens and admin calls, neither the server's output
    (past the start-up banner, which prints the demo credentials on purpose) nor
    /sandbox/requests contains a token, private key or signature that was sent."""
    bodies = [signed_body(f"secret-{n}", {ALPHA: {"BTC": "-5"}}) for n in range(3)]
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        for body in bodies:
            assert client.post(STAGE_URL, json=body, headers=PARTNER_HEADERS).status_code == 200
        bad = client.post(
            STAGE_URL,
            json={**bodies[0], "signature": "ab" * 64},
            headers={"Authorization": "Bearer leaked-token-candidate"},
        )
        assert bad.status_code == 401
        logged = client.get("/sandbox/requests", headers=ADMIN_HEADERS, params={"limit": 1000})
    assert logged.status_code == 200
    output = server_log(server)
    banner_end = output.index("answers 409):")
    after_banner = output[output.index("\n", output.index("curl", banner_end)) :]
    secrets = [
        "demo-exchange-token",
        "leaked-token-candidate",
        "test-admin-token",
        "01fe0bca951fe1aa8afc187a9943827b5be88d0a8f772b809ac5794e70fd35d3",
        *(str(b["signature"]) for b in bodies),
    ]
    for secret in secrets:
        assert secret not in after_banner, secret
        assert secret not in logged.text, secret
    assert len(logged.json()["requests"]) >= 4
