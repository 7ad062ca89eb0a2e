"""The outermost ASGI layer: a request id, body limit (413), UTF-8 (400), one buffered body with
a true Content-Length, and the request log. Also the last line of defence: any
`application/problem+json` that escapes connexion is rewritten as `{error, rule}`, its rule
chosen by the error mapper (which alone decides statuses)."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from oeskit import spec
from oeskit.clock import format_instant, utcnow
from oeskit.domain import rules
from oeskit.http import request_log
from oeskit.http.errors import REQUEST_ID, ErrorMapper, error_body
from oeskit.http.fastlane import RAW_BODY
from oeskit.http.observe import Observer, RouteNames
from oeskit.http.query import ArrayQuery
from oeskit.http.services import UsesServices
from oeskit.metrics import Metrics

# A client that stops sending mid-body must not hold a worker's connection forever (slowloris):
# the body has `Settings.body_timeout_s`, plus one second per MIN_BODY_RATE bytes received so a
# big body on a slow but honest link still arrives; past that it is answered 408 and the
# connection closed.
MIN_BODY_RATE = 64 * 1024


class BodyTooLarge(Exception):
    pass


class BodyTimeout(Exception):
    pass


class Guard(UsesServices):
    """Wraps the whole application (see the module docstring)."""

    def __init__(self, app: ASGIApp, observer: Observer | None = None) -> None:
        self.app = app
        self.observer = observer or Observer(RouteNames(()), Metrics())
        self.query = ArrayQuery.from_contract(spec.contract())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        seen: dict[str, Any] = {"status": 500, "rule": None}
        # Named in the log line and the body of a 500, so a partner's report finds the traceback.
        scope = {
            **scope,
            "extensions": {**(scope.get("extensions") or {}), REQUEST_ID: secrets.token_hex(6)},
        }

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
                seen["responded"] = True
                if message["status"] == 503:
                    retry = dict(message.get("headers", [])).get(b"retry-after")
                    seen["retry_after"] = retry.decode("latin-1") if retry else None
            await send(message)

        note = request_log.NOTE.set(seen)
        try:
            await self._handle(scope, receive, recording_send, seen)
        except Exception as exc:
            # Nothing outside this layer turns an exception into {error, rule}.
            if "responded" not in seen:
                seen["rule"] = rules.SRV_INTERNAL
                response = self.s.errors.internal_for(scope, exc)
                await _send_response(
                    recording_send,
                    response.status_code,
                    response.body,
                    seen,
                    _encode(response.headers),
                )
            else:
                self.s.errors.internal_for(scope, exc)  # logged; the answer was already sent
        finally:
            request_log.NOTE.reset(note)
            self.s.store.end_request()
            seconds = time.perf_counter() - started
            self._log(scope, seen, seconds * 1000)
            self.observer.finished(scope, seen, seconds)

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, seen: dict[str, Any]
    ) -> None:
        self.s.store.begin_request()
        errors = self.s.errors
        headers = [
            (k, v)
            for k, v in scope["headers"]
            if k not in (b"content-length", b"transfer-encoding")
        ]
        limit = self.s.settings.body_limit
        timeout = self.s.settings.body_timeout_s
        declared = dict(scope["headers"]).get(b"content-length")
        try:
            if declared is not None and int(declared) > limit:
                raise BodyTooLarge
            body = await _read_body(receive, limit, timeout)
        except BodyTooLarge:
            await _send_error(
                send,
                errors,
                rules.REQ_TOO_LARGE,
                f"the body exceeds the {limit}-byte limit",
                seen,
                close=True,
            )
            return
        except ValueError:
            await _send_error(send, errors, rules.REQ_JSON, "Content-Length is not a number", seen)
            return
        except BodyTimeout:
            await _send_error(
                send,
                errors,
                rules.REQ_TIMEOUT,
                f"the body did not arrive within {timeout:g} s",
                seen,
                close=True,
            )
            return
        content_type = dict(scope["headers"]).get(b"content-type", b"")
        seen["body"], seen["content_type"] = body, content_type
        if body and not content_type.strip():
            # connexion skips body validation without a Content-Type and hands the handler bytes.
            await _send_error(
                send,
                errors,
                rules.REQ_MEDIA_TYPE,
                "send the body as application/json (the Content-Type header is missing)",
                seen,
            )
            return
        if not body:
            # A Content-Type describes a body; without one there is nothing to parse (Starlette
            # would refuse a GET declaring `multipart/form-data` without a boundary).
            headers = [(k, v) for k, v in headers if k != b"content-type"]
        if body and b"json" in content_type:
            try:
                body.decode("utf-8")
            except UnicodeDecodeError as exc:
                await _send_error(
                    send,
                    errors,
                    rules.REQ_JSON,
                    f"the body is not valid UTF-8 (byte {exc.start})",
                    seen,
                )
                return
        if body or declared is not None:
            headers.append((b"content-length", str(len(body)).encode()))
        scope = {
            **scope,
            "headers": headers,
            "query_string": self.query.normalize(scope),
            "extensions": {**scope.get("extensions", {}), RAW_BODY: body},
        }
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, _ProblemRewriter(send, seen, errors, scope))

    def _log(self, scope: Scope, seen: dict[str, Any], duration_ms: float) -> None:
        # Buffered in memory and written by the background loop (store.flush_request_log).
        self.s.store.log_request(
            request_log.entry(format_instant(utcnow()), scope, seen, duration_ms)
        )


async def _read_body(receive: Receive, limit: int, timeout: float) -> bytes:
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
    send: Send,
    errors: ErrorMapper,
    rule: str,
    message: str,
    seen: dict[str, Any],
    *,
    close: bool = False,
) -> None:
    seen["rule"] = rule
    extra = _encode(errors.headers(rule))
    if close:  # the rest of the body may still come: do not read it as the next request
        extra.append((b"connection", b"close"))
    await _send_response(send, errors.status(rule), error_body(message, rule), seen, extra)


async def _send_response(
    send: Send,
    status: int,
    payload: bytes,
    seen: dict[str, Any],
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def _encode(headers: Mapping[str, str] | None) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]


class _ProblemRewriter:
    """Passes responses through, noting the rule of error bodies; rewrites problem+json."""

    def __init__(self, send: Send, seen: dict[str, Any], errors: ErrorMapper, scope: Scope) -> None:
        self.send = send
        self.seen = seen
        self.errors = errors
        self.scope = scope
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
            rule = self.errors.framework_rule(status, str(self.scope.get("path", "")))
            problem = parsed if isinstance(parsed, dict) else {}
            message = problem.get("detail") or problem.get("title") or "request failed"
            response = (
                self.errors.internal_for(self.scope, None)
                if rule == rules.SRV_INTERNAL
                else self.errors.response(rule, str(message))
            )
            body, status = response.body, response.status_code
            present = {name for name, _ in headers}
            headers += [h for h in _encode(response.headers) if h[0] not in present]
            parsed = {"rule": rule}
        self.seen["rule"] = parsed.get("rule")
        headers += [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await self.send({**self.start, "status": status, "headers": headers})
        await self.send({"type": "http.response.body", "body": body})
