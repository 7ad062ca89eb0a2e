"""The operator's routes, documented in `http/operations.yaml`: `GET /healthz` (the process
answers), `GET /readyz` (the database answers and the server's world is loaded) and
`GET /metrics` (Prometheus text). No credentials, no request log, no namespace: this layer sits
outside every other, so a probe every second costs a few microseconds and never shows up in
the partner's request log or in the request metrics."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from oeskit.http.asgi import send_json
from oeskit.http.errors import ErrorMapper
from oeskit.http.services import Services
from oeskit.metrics import Metrics

log = logging.getLogger("oeskit")

HEALTH = "/healthz"
READY = "/readyz"
METRICS = "/metrics"
PATHS = frozenset({HEALTH, READY, METRICS})
METHODS = ("GET", "HEAD")
_ALIVE = orjson.dumps({"status": "ok"})


class Operations:
    """Answers the three routes; passes everything else to `app`."""

    def __init__(
        self, app: ASGIApp, services: Services, metrics: Metrics, errors: ErrorMapper
    ) -> None:
        self.app = app
        self.services = services  # the default namespace's: its database is the server's
        self.metrics = metrics
        self.errors = errors

    def __getattr__(self, name: str) -> Any:
        """Everything else is the wrapped application's (the namespaces layer: `close()`, the
        open namespaces), so callers of `create_app` see it as before this layer existed."""
        if name == "app":  # not set yet (copying, unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.app, name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in PATHS:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method not in METHODS:
            response = self.errors.method_response(method, ", ".join(METHODS))
            await send_json(send, response.status_code, bytes(response.body), response.headers)
            return
        path = scope["path"]
        if path == METRICS:
            body, content_type = self.metrics.exposition()
            await _send(send, 200, body, content_type.encode(), method)
        elif path == READY:
            status, body = self._readiness()
            await _send(send, status, body, b"application/json", method)
        else:
            await _send(send, 200, _ALIVE, b"application/json", method)

    def _readiness(self) -> tuple[int, bytes]:
        checks: dict[str, str] = {}
        world_required = self.services.settings.world is not None
        try:
            empty = self.services.store.is_empty()
            checks["database"] = "ok"
            if world_required:
                checks["world"] = "missing" if empty else "loaded"
        except Exception:  # any failure to read means not ready; the cause goes to the log
            log.warning("readiness: the database did not answer", exc_info=True)
            checks["database"] = "unreachable"
        ready = checks["database"] == "ok" and checks.get("world") != "missing"
        body = {"status": "ready" if ready else "unavailable", "checks": checks}
        return (200 if ready else 503), orjson.dumps(body)


async def _send(send: Send, status: int, body: bytes, content_type: bytes, method: str) -> None:
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})
