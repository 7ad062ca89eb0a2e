"""The outermost ASGI layer: body limit (413), UTF-8 (400), one buffered body with a true
Content-Length, injected latency, and the request log. Also the last line of defence: any
`application/problem+json` that escapes connexion is rewritten as `{error, rule}`."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from oeskit.clock import format_instant, utcnow
from oeskit.domain import rules
from oeskit.http.errors import error_body
from oeskit.http.fastlane import RAW_BODY
from oeskit.http.services import Services

log = logging.getLogger("oeskit")
_PROBLEM_RULES = {
    400: rules.REQ_SCHEMA,
    401: rules.AUTH_TOKEN,
    403: rules.AUTH_SCOPE,
    404: rules.REQ_NOT_FOUND,
    405: rules.REQ_METHOD,
    413: rules.REQ_TOO_LARGE,
    415: rules.REQ_MEDIA_TYPE,
}


# A client that stops sending mid-body must not hold a worker's connection forever (slowloris):
# the body has BODY_TIMEOUT_S, plus one second per MIN_BODY_RATE bytes received so a big body on
# a slow but honest link still arrives; past that it is answered 408 and the connection closed.
BODY_TIMEOUT_S = 10.0
MIN_BODY_RATE = 64 * 1024


class BodyTooLarge(Exception):
    pass


class BodyTimeout(Exception):
    pass


class Guard:
    """Wraps the whole application (see the module docstring)."""

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.s = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        seen: dict[str, Any] = {"status": 500, "rule": None}

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
                seen["responded"] = True
            await send(message)

        try:
            await self._handle(scope, receive, recording_send, seen)
        except Exception:
            # Nothing outside this layer turns an exception into {error, rule}.
            log.exception("request failed outside connexion's error handling")
            if "responded" not in seen:
                await _send_error(
                    recording_send, 500, rules.SRV_INTERNAL, "unexpected server error", seen
                )
        finally:
            self.s.store.end_request()
            self._log(scope, seen, (time.perf_counter() - started) * 1000)

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, seen: dict[str, Any]
    ) -> None:
        self.s.store.begin_request()
        headers = [
            (k, v)
            for k, v in scope["headers"]
            if k not in (b"content-length", b"transfer-encoding")
        ]
        limit = self.s.settings.body_limit
        declared = dict(scope["headers"]).get(b"content-length")
        try:
            if declared is not None and int(declared) > limit:
                raise BodyTooLarge
            body = await _read_body(receive, limit)
        except BodyTooLarge:
            await _send_error(
                send,
                413,
                rules.REQ_TOO_LARGE,
                f"the body exceeds the {limit}-byte limit",
                seen,
                close=True,
            )
            return
        except ValueError:
            await _send_error(send, 400, rules.REQ_JSON, "Content-Length is not a number", seen)
            return
        except BodyTimeout:
            await _send_error(
                send,
                408,
                rules.REQ_TIMEOUT,
                f"the body did not arrive within {BODY_TIMEOUT_S:g} s",
                seen,
                close=True,
            )
            return
        content_type = dict(scope["headers"]).get(b"content-type", b"")
        if body and not content_type.strip():
            # connexion skips body validation without a Content-Type and hands the handler bytes.
            await _send_error(
                send,
                415,
                rules.REQ_MEDIA_TYPE,
                "send the body as application/json (the Content-Type header is missing)",
                seen,
            )
            return
        if body and b"json" in content_type:
            try:
                body.decode("utf-8")
            except UnicodeDecodeError as exc:
                await _send_error(
                    send,
                    400,
                    rules.REQ_JSON,
                    f"the body is not valid UTF-8 (byte {exc.start})",
                    seen,
                )
                return
        fault = self.s.store.take_fault("latency")
        if fault is not None and fault["milliseconds"]:
            await asyncio.sleep(fault["milliseconds"] / 1000)
        if body or declared is not None:
            headers.append((b"content-length", str(len(body)).encode()))
        scope = {
            **scope,
            "headers": headers,
            "extensions": {**scope.get("extensions", {}), RAW_BODY: body},
        }
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, _ProblemRewriter(send, seen))

    def _log(self, scope: Scope, seen: dict[str, Any], duration_ms: float) -> None:
        # Buffered in memory and written by the background loop (store.flush_request_log).
        self.s.store.log_request(
            format_instant(utcnow()),
            scope.get("method", ""),
            scope.get("path", ""),
            int(seen["status"]),
            seen["rule"],
            round(duration_ms, 3),
        )


async def _read_body(receive: Receive, limit: int, timeout: float = BODY_TIMEOUT_S) -> bytes:
    chunks: list[bytes] = []
    size = 0
    started = asyncio.get_running_loop().time()
    while True:
        try:
            async with asyncio.timeout_at(started + timeout + size / MIN_BODY_RATE):
                message = await receive()
        except TimeoutError:
            raise BodyTimeout from None
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _send_error(
    send: Send, status: int, rule: str, message: str, seen: dict[str, Any], *, close: bool = False
) -> None:
    seen["rule"] = rule
    payload = error_body(message, rule)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    if close:  # the rest of the body may still come: do not read it as the next request
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class _ProblemRewriter:
    """Passes responses through, noting the rule of error bodies; rewrites problem+json."""

    def __init__(self, send: Send, seen: dict[str, Any]) -> None:
        self.send = send
        self.seen = seen
        self.start: Message | None = None
        self.buffer: list[bytes] = []

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            status = message["status"]
            content_type = dict(message.get("headers", [])).get(b"content-type", b"")
            if status >= 400:
                self.start = message
                self.problem = b"problem+json" in content_type
                return
            await self.send(message)
            return
        if self.start is None or message["type"] != "http.response.body":
            await self.send(message)
            return
        self.buffer.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        await self._flush(b"".join(self.buffer))

    async def _flush(self, body: bytes) -> None:
        assert self.start is not None
        status = self.start["status"]
        headers = [
            (k, v)
            for k, v in self.start.get("headers", [])
            if k not in (b"content-length", b"content-type")
        ]
        try:
            parsed = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            parsed = {}
        if self.problem or not isinstance(parsed, dict) or "rule" not in parsed:
            rule = _PROBLEM_RULES.get(status, rules.SRV_INTERNAL)
            problem = parsed if isinstance(parsed, dict) else {}
            message = problem.get("detail") or problem.get("title") or "request failed"
            body = error_body(str(message), rule)
            parsed = {"rule": rule}
        self.seen["rule"] = parsed.get("rule")
        headers += [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await self.send({**self.start, "headers": headers})
        await self.send({"type": "http.response.body", "body": body})
