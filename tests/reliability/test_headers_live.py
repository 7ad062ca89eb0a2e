"""Request headers are bounded on a real `oeskit serve`: a header block past 64 KiB is answered
431 OES-REQ-008 at once (it was read whole, however large, with other clients waiting), and a
connection that does not finish its headers in time is closed."""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import ADMIN, LiveServer, start_server, stop_server

ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the module: each test opens connections of its own and changes no
    state (a server that stopped serving would fail the next test too)."""
    live = start_server(tmp_path_factory.mktemp("headers-live"), extra=("--header-timeout", "1"))
    yield live
    stop_server(live)


def _connect(server: LiveServer) -> socket.socket:
    host, port = server.base_url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def _read_all(sock: socket.socket, timeout: float = 10) -> bytes:
    sock.settimeout(timeout)
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except (ConnectionResetError, TimeoutError):
        pass
    return b"".join(chunks)


def _send_until_answered(sock: socket.socket, data: bytes) -> None:
    """Send `data` in pieces, stopping as soon as the server answers or closes."""
    for start in range(0, len(data), 16384):
        if select.select([sock], [], [], 0)[0]:
            return
        try:
            sock.sendall(data[start : start + 16384])
        except (BrokenPipeError, ConnectionResetError):
            return


def test_a_one_megabyte_header_is_431_with_the_error_body_at_once(server: LiveServer) -> None:
    """One 1 MB header: 431 with `{error, rule: OES-REQ-008}` and `Connection: close` within a
    second, and the server goes on serving."""
    sock = _connect(server)
    started = time.perf_counter()
    request = (
        b"GET /sandbox/clock HTTP/1.1\r\nHost: x\r\nX-Padding: "
        + b"a" * (1024 * 1024)
        + b"\r\n\r\n"
    )
    _send_until_answered(sock, request)
    answer = _read_all(sock)
    elapsed = time.perf_counter() - started
    sock.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 "), answer[:300]
    assert b"connection: close" in head.lower()
    parsed = json.loads(body)
    assert parsed["rule"] == "OES-REQ-008"
    assert "64 KiB" in parsed["error"]
    assert elapsed < 2, elapsed
    assert httpx.get(server.base_url + "/sandbox/clock", headers=ADMIN_HEADERS).status_code == 200


def test_headers_just_under_the_limit_are_served(server: LiveServer) -> None:
    """60 KiB of headers, and a body after them, are an ordinary request."""
    response = httpx.get(
        server.base_url + "/sandbox/clock",
        headers={**ADMIN_HEADERS, "X-Padding": "a" * (60 * 1024)},
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "sent", [b"", b"GET /sandbox/clock HTTP/1.1\r\nHost: x\r\nX-Slow: "], ids=["idle", "partial"]
)
def test_a_connection_without_complete_headers_is_closed(server: LiveServer, sent: bytes) -> None:
    """A connection that sends nothing, or stops halfway through its headers, is closed after
    the header timeout (1 s here) instead of holding a connection for ever."""
    sock = _connect(server)
    started = time.perf_counter()
    sock.sendall(sent)
    assert _read_all(sock, timeout=10) == b""  # closed by the server, no answer
    assert 0.8 < time.perf_counter() - started < 5
    sock.close()


def test_a_kept_alive_connection_gets_the_same_header_bound(server: LiveServer) -> None:
    """After a first request on a connection, the next one's headers have the same limit."""
    sock = _connect(server)
    try:
        first = b"GET /sandbox/clock HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        sock.sendall(first + ADMIN.encode() + b"\r\n\r\n")
        sock.settimeout(10)
        answer = b""
        while b"\r\n\r\n" not in answer:  # the whole first answer, head and body
            answer += sock.recv(65536)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 "), head
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        while len(body) < length:
            body += sock.recv(65536)
        second = b"GET /sandbox/clock HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * (200 * 1024)
        _send_until_answered(sock, second + b"\r\n")
        assert b"HTTP/1.1 431 " in _read_all(sock)
    finally:
        sock.close()
