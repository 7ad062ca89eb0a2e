"""The HTTP/1.1 protocol `oeskit serve` runs: uvicorn's httptools protocol (what uvicorn picks
when httptools is installed) with a bound on a request's headers, in size and in time.

Neither is an option of uvicorn for httptools: its parser buffers a header block of any size
(a 128 MB header took ~25 s and 520 MB), and nothing closes a connection that never finishes
its headers. uvicorn's h11 protocol has `h11_max_incomplete_event_size`, but answers a bare
400 in text and is the slower parser. So this subclass, passed as uvicorn's `http` protocol
class, counts the bytes of the headers as they arrive (one addition per chunk read, and only
until the headers are complete):

- past HEADER_LIMIT bytes it answers 431 `{"error", "rule": "OES-REQ-008"}` and closes the
  connection, before the rest is read or parsed;
- a connection whose next request has not completed its headers `--header-timeout` seconds
  (10 by default) after the connection opened or that request's first byte arrived is closed.
  Between requests uvicorn's keep-alive timeout (5 s) already closes an idle connection.

uvicorn builds the protocol itself, in each worker process, so it reads the timeout from the
settings `oeskit serve` exports to its processes (`Settings.from_env`), once per process.

The body has its own limit and timeout in the Guard (`http/guard.py`)."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from oeskit import spec
from oeskit.domain import rules
from oeskit.http.errors import error_body
from oeskit.settings import Settings

HEADER_LIMIT = 64 * 1024  # the request line and every header field, as sent
LINGER_S = 1.0  # after a 431, how long the rest of the request is read and dropped


@functools.cache
def _header_timeout_s() -> float:
    return Settings.from_env().header_timeout_s


@functools.cache
def _too_large() -> bytes:
    """The whole 431 response, built once (its status from the catalogue, like every rule)."""
    status = spec.rule_statuses()[rules.REQ_HEADERS]
    body = error_body(
        f"the request's headers exceed the {HEADER_LIMIT // 1024} KiB limit; send fewer or "
        "smaller header fields",
        rules.REQ_HEADERS,
    )
    return (
        f"HTTP/1.1 {status} Request Header Fields Too Large\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    ).encode() + body


class BoundedHeadersProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing header blocks past HEADER_LIMIT (431) and
    closing connections whose headers do not arrive in time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_headers = True  # reading a request line and headers (or waiting for one)
        self._header_bytes = 0
        self._header_deadline: asyncio.TimerHandle | None = None
        self._discarding = False  # answered 431: what still arrives is dropped, never parsed
        self._linger: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._linger is not None:
            self._linger.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._discarding:
            return
        if not self._in_headers:
            super().data_received(data)
            return
        room = HEADER_LIMIT - self._header_bytes
        if len(data) <= room:
            self._header_bytes += len(data)
            super().data_received(data)
            return
        # Feed what still fits: if the headers end inside it the rest is a body (or the next
        # request), read as usual; if they do not, the header block is too large.
        head, rest = data[:room], data[room:]
        self._header_bytes += len(head)
        if head:
            super().data_received(head)
        if self.transport.is_closing() or self._discarding:
            return
        if self._in_headers:
            self._refuse()
            return
        self.data_received(rest)

    # httptools callbacks ---------------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_headers = True
        self._arm()  # a keep-alive connection's next request: its headers have the same bound

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._disarm()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_headers = True
        self._header_bytes = 0

    # ------------------------------------------------------------------------------------------
    def _refuse(self) -> None:
        self.logger.warning("request headers over %d bytes: answered 431", HEADER_LIMIT)
        self._disarm()
        self._discarding = True
        self.transport.write(_too_large())
        # Closing now, with the client's unread bytes still arriving, would make the kernel
        # reset the connection, and a client still sending could lose the 431 with it. So the
        # answer is followed by EOF, what still arrives is read and dropped for LINGER_S, and
        # only then is the connection closed (nginx calls this a lingering close).
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._linger = self.loop.call_later(LINGER_S, self.transport.close)

    def _arm(self) -> None:
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_later(_header_timeout_s(), self._headers_late)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_late(self) -> None:
        self._header_deadline = None
        if self._in_headers and not self.transport.is_closing():
            self.transport.close()
