"""Sandbox fault injection as one ASGI layer around the partner API (armed through
`/sandbox/faults`). The partner handlers, the fast lane and the guard know nothing of faults;
this layer sees the request before them and may hold it, answer it, or rewrite its answer.

A kind of fault is an `Injector`: `match` says cheaply whether a request is one it applies to,
`inject` takes one use of an armed fault from the store and returns the exchange to pass on
(the same, or with `receive`/`send` wrapped), or None once it has answered the request itself.
A new kind is one more class in `INJECTORS` plus its control-plane schema in sandbox.yaml.
A fault scoped to an enterprise matches only requests to that enterprise's partner routes (a
client test arms its partner's *next* staging this way); each one applied is noted in the
request log (`request_log.note_fault`).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, replace
from typing import Protocol

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from oeskit.domain import rules
from oeskit.http import request_log
from oeskit.http.asgi import send_json
from oeskit.http.services import UsesServices

PARTNER_API = "/api/"
STAGING = "/partners/settlements"  # the v2 POST's path ends so (and only it takes a POST there)


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request on its way through the layer."""

    scope: Scope
    receive: Receive
    send: Send

    @property
    def path(self) -> str:
        return str(self.scope.get("path", ""))

    @property
    def enterprise(self) -> str | None:
        return request_log.enterprise_of(self.path)

    @property
    def is_partner_api(self) -> bool:
        return self.path.startswith(PARTNER_API)

    @property
    def is_staging(self) -> bool:
        return (
            self.scope.get("method") == "POST"
            and self.path.startswith("/api/network/v2/")
            and self.path.endswith(STAGING)
        )


class Injector(Protocol):
    kind: str

    def match(self, exchange: Exchange) -> bool: ...

    async def inject(self, exchange: Exchange, faults: Faults) -> Exchange | None: ...


class Faults(UsesServices):
    """The layer: with no fault armed (the store knows from `begin_request`) it costs nothing."""

    def __init__(self, app: ASGIApp | None, injectors: tuple[Injector, ...] | None = None) -> None:
        self.app: ASGIApp = app  # type: ignore[assignment]  # app.py wires it once built
        self.injectors = injectors if injectors is not None else INJECTORS
        # Set when the server begins to shut down: held requests stop waiting at once.
        self.stopping = asyncio.Event()

    def release_held(self) -> None:
        """Stop every hold now and refuse new ones (the server is shutting down)."""
        self.stopping.set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.s.store.faults_armed:
            await self.app(scope, receive, send)
            return
        exchange: Exchange | None = Exchange(scope, receive, send)
        for injector in self.injectors:
            if exchange is None:
                return
            if injector.match(exchange):
                exchange = await injector.inject(exchange, self)
        if exchange is not None:
            await self.app(exchange.scope, exchange.receive, exchange.send)

    async def hold(self, exchange: Exchange, seconds: float) -> Exchange | None:
        """Wait `seconds`, or less if the client goes or the server stops; None if the client
        went (nobody is left to answer)."""
        # The Guard has buffered the whole body, so the first receive() returns it at once and
        # the next one returns only when the client disconnects.
        first = await exchange.receive()
        watching = asyncio.ensure_future(exchange.receive())
        stopping = asyncio.ensure_future(self.stopping.wait())
        try:
            await asyncio.wait({watching, stopping}, timeout=seconds, return_when="FIRST_COMPLETED")
        finally:
            stopping.cancel()
        if watching.done() and watching.result().get("type") == "http.disconnect":
            return None
        replayed = False

        async def receive() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return first
            return await watching

        # The watcher outlives the hold only to hand its message to whoever asks next.
        return replace(exchange, receive=receive)


class Latency:
    """`latency`: the next `count` requests to the partner API wait `milliseconds` first."""

    kind = "latency"

    def match(self, exchange: Exchange) -> bool:
        return exchange.is_partner_api

    async def inject(self, exchange: Exchange, faults: Faults) -> Exchange | None:
        fault = faults.s.store.take_fault(self.kind, enterprise_id=exchange.enterprise)
        if fault is None or not fault["milliseconds"]:
            return exchange
        request_log.note_fault(self.kind)
        return await faults.hold(exchange, fault["milliseconds"] / 1000)


class Busy:
    """`busy`: the next `count` stagings (of `externalId`, when the fault has one) are answered
    503 OES-SRV-002 with `Retry-After` and stage nothing (the application never sees them)."""

    kind = "busy"

    def match(self, exchange: Exchange) -> bool:
        return exchange.is_staging

    async def inject(self, exchange: Exchange, faults: Faults) -> Exchange | None:
        # The externalId is the request body's: nothing is staged yet to read it from.
        body, exchange = await _peek_body(exchange)
        fault = faults.s.store.take_fault(
            self.kind, _field(body, "externalId"), enterprise_id=exchange.enterprise
        )
        if fault is None:
            return exchange
        request_log.note_fault(self.kind)
        retry_after = str(fault["retry_after"] if fault["retry_after"] is not None else 1)
        response = faults.s.errors.response(
            rules.SRV_BUSY,
            "the sandbox is busy (an armed `busy` fault): nothing was staged; send the same "
            f"request again after {retry_after} s",
            headers={"Retry-After": retry_after},
        )
        await send_json(exchange.send, response.status_code, bytes(response.body), response.headers)
        return None


class AfterCommit:
    """The faults that act on a staging's answer once it is committed: `fail_after_commit` (the
    next `count` stagings that succeed are answered 500, as if the server died before answering)
    and `hold` (their 200 is held back `milliseconds`: a slow answer, the client may time out
    although it is staged)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def match(self, exchange: Exchange) -> bool:
        return exchange.is_staging

    async def inject(self, exchange: Exchange, faults: Faults) -> Exchange | None:
        return replace(exchange, send=_AfterCommit(exchange, faults, self.kind))


class _AfterCommit:
    """Wraps `send` to act on a staging's 200 once its body says which externalId was staged:
    `fail_after_commit` turns it into the 500 of an unexpected failure (the staged settlement
    is dropped from the answer); `hold` sends it late."""

    def __init__(self, exchange: Exchange, faults: Faults, kind: str) -> None:
        self.exchange = exchange
        self.faults = faults
        self.kind = kind
        self.start: Message | None = None
        self.chunks: list[bytes] = []

    async def __call__(self, message: Message) -> None:
        send = self.exchange.send
        if message["type"] == "http.response.start" and message["status"] == 200:
            self.start = message  # held until the body says which externalId was staged
            return
        if self.start is None or message["type"] != "http.response.body":
            await send(message)
            return
        self.chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        body = b"".join(self.chunks)
        store = self.faults.s.store
        fault = store.take_fault(self.kind, _external_id(body), self.exchange.enterprise)
        if fault is not None:
            request_log.note_fault(self.kind)
        if fault is not None and self.kind == "hold":
            with contextlib.suppress(TimeoutError):  # a shutdown sends it at once
                await asyncio.wait_for(
                    self.faults.stopping.wait(), (fault["milliseconds"] or 0) / 1000
                )
        if fault is None or self.kind == "hold":
            await send(self.start)
            await send({"type": "http.response.body", "body": body})
            return
        error = RuntimeError(f"injected fault after commit ({_external_id(body)!r})")
        response = self.faults.s.errors.internal_for(self.exchange.scope, error)
        await send_json(send, 500, bytes(response.body), response.headers)


def _external_id(body: bytes) -> str | None:
    with contextlib.suppress(orjson.JSONDecodeError, LookupError, TypeError):
        value = orjson.loads(body)["settlement"]["externalId"]
        return str(value)
    return None


def _field(body: bytes, name: str) -> str | None:
    """A top-level string field of a JSON request body, if it has one."""
    with contextlib.suppress(orjson.JSONDecodeError, LookupError, TypeError):
        value = orjson.loads(body)[name]
        return value if isinstance(value, str) else None
    return None


async def _peek_body(exchange: Exchange) -> tuple[bytes, Exchange]:
    """The request's body, and the exchange with a `receive` that hands it on again."""
    # The Guard has buffered the whole body: the first receive() returns all of it.
    first = await exchange.receive()
    replayed = False

    async def receive() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return first
        return await exchange.receive()

    return bytes(first.get("body", b"")), replace(exchange, receive=receive)


# Order matters: a latency fault delays a request before any other fault shapes its answer, and
# a busy one answers before the application stages anything.
INJECTORS: tuple[Injector, ...] = (
    Latency(),
    Busy(),
    AfterCommit("fail_after_commit"),
    AfterCommit("hold"),
)
