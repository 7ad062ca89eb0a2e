"""The target: an HTTP client bound to a base URL that records every exchange redacted, plus the
control-plane calls the runner makes itself (seeding a world). HTTP only."""

from __future__ import annotations

import copy
import functools
import json
import ssl
import time
from typing import Any

import httpx

from oeskit import fixtures, worlds
from oeskit.reports.model import Exchange
from oeskit.reports.redact import Redactor

# Bodies in reports are cut here: a 33 MiB body would make a report nobody can open.
_BODY_LIMIT = 4000


@functools.lru_cache(maxsize=1)
def _tls() -> ssl.SSLContext:
    """httpx's default TLS context, built once per process (each build loads the CA bundle:
    ~25 ms a client, for every run against a plain-HTTP loopback target too)."""
    return httpx.create_ssl_context()


class TargetError(RuntimeError):
    """The target could not be reached or refused a control-plane call the runner needs;
    `status` is the control plane's answer (None when nothing answered)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Target:
    """One base URL, one connection pool, one redactor."""

    def __init__(
        self,
        base_url: str,
        redactor: Redactor,
        sandbox_token: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # A target may live under a path (`http://host:8080/ns/run-42`): the contract's routes
        # start after it.
        self.base_path = httpx.URL(self.base_url).path.rstrip("/")
        self.redactor = redactor
        self.sandbox_token = sandbox_token
        self.client = httpx.Client(base_url=self.base_url, timeout=timeout, verify=_tls())

    def close(self) -> None:
        self.client.close()

    def route_path(self, url: httpx.URL) -> str:
        """The path of `url` as the contract names it: the base URL's own path taken off."""
        path = url.path
        if self.base_path and path.startswith(self.base_path + "/"):
            return path[len(self.base_path) :]
        return path

    def send(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        params: dict[str, Any] | None = None,
        step: str = "",
    ) -> tuple[httpx.Response | None, Exchange]:
        """Send one request; return the response (None when the connection failed) and its
        redacted record."""
        started = time.perf_counter()
        request = self.client.build_request(
            method, path, headers=headers or {}, content=content, params=params
        )
        response: httpx.Response | None
        try:
            response = self.client.send(request)
            error = None
        except httpx.HTTPError as exc:
            response, error = None, f"{type(exc).__name__}: {exc}"
        elapsed = (time.perf_counter() - started) * 1000
        return response, self._record(request, response, error, elapsed, step)

    def _record(
        self,
        request: httpx.Request,
        response: httpx.Response | None,
        error: str | None,
        elapsed: float,
        step: str,
    ) -> Exchange:
        body = request.content.decode("utf-8", "replace") if request.content else None
        if body is not None and len(body) > _BODY_LIMIT:
            body = body[:_BODY_LIMIT] + f"... ({len(request.content)} bytes)"
        r = self.redactor
        return Exchange(
            method=request.method,
            url=str(request.url),
            request_headers=r.headers(
                {
                    k: v
                    for k, v in request.headers.items()
                    if k.lower() not in ("accept-encoding", "connection")
                }
            ),
            request_body=r.text(body),
            status=response.status_code if response is not None else None,
            response_headers=r.headers(dict(response.headers)) if response is not None else {},
            response_body=r.text(response.text[:_BODY_LIMIT] if response is not None else error),
            elapsed_ms=elapsed,
            step=step,
        )

    def admin_headers(self) -> dict[str, str]:
        if not self.sandbox_token:
            raise TargetError("this step needs the sandbox control plane: pass --sandbox-token")
        return {"Authorization": f"Bearer {self.sandbox_token}"}

    def seed_world(self, name: str, overrides: dict[str, Any]) -> Exchange:
        """Replace the target's state with the world `name` (a packaged world or a path)."""
        world = load_world(name, overrides)
        response, exchange = self.send(
            "POST",
            "/sandbox/world",
            headers={**self.admin_headers(), "Content-Type": "application/json"},
            content=json.dumps(world).encode(),
            step=f"seed world {name}",
        )
        if response is None or response.status_code != 200:
            raise TargetError(
                f"POST /sandbox/world {name} answered {exchange.status}: {exchange.response_body}",
                exchange.status,
            )
        return exchange


def load_world(name: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """Read and validate a world file, then apply `worldSet` overrides (dotted paths)."""
    path = fixtures.world_path(name)
    found = path.stat()
    world = copy.deepcopy(_world_file(str(path), found.st_mtime_ns, found.st_size))
    if not overrides:
        return world  # validated when read: validating it again gives the same world
    for dotted, value in overrides.items():
        node: Any = world
        parts = dotted.split(".")
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        last = parts[-1]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return worlds.validate_world(world)


@functools.lru_cache(maxsize=16)
def _world_file(path: str, mtime_ns: int, size: int) -> dict[str, Any]:
    """A world file read and validated once per version of it (~25 ms each; a run seeds one
    per scenario). Callers copy it before changing anything."""
    return worlds.load_world_file(path)
