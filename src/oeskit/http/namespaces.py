"""Namespaces: every route, the partner API and `/sandbox/` alike, is also served under
`/ns/{name}/`, and each name is a sandbox of its own: world, settlements, balances, clock,
jobs, faults and request log. No prefix is the default namespace.

This is the outermost layer. It strips `/ns/{name}` from the path, finds (or, on first use,
creates) that namespace's `Services` and makes it current for the request; every layer and
route below is shared and reaches state only through `services.current()`. A namespace is a
SQLite file of its own with its own commit group, job loop and checkpointer (opened by the
`Opener` that `app.py` wires in), so nothing of one can be read or moved from another.

Bad input: a name outside `[a-z0-9-]{1,40}` is answered 400 (OES-SBX-006), one namespace more
than `--max-namespaces` 409 (OES-SBX-007); nothing is created by either. Only a request that
carries a credential valid there (the admin token, or a token of the world the server loads
into new namespaces) creates one: any other request under a name that does not exist is
answered as an unknown path (404 OES-REQ-004) without touching the disk, so anonymous
requests cannot use up `--max-namespaces`."""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from typing import Protocol

from starlette.types import ASGIApp, Receive, Scope, Send

from oeskit.domain.sandbox_rules import SBX_NAMESPACE_LIMIT, SBX_NAMESPACE_NAME
from oeskit.errors import NamespaceLimit, StoreUnavailable
from oeskit.http.asgi import send_json
from oeskit.http.errors import REQUEST_ID, ErrorMapper, error_body
from oeskit.http.services import CURRENT, Services, using

log = logging.getLogger("oeskit")

PREFIX = "/ns/"
# In a namespaced request's scope: the prefix the client used (`/ns/run-42`), for pages that
# link back into the same namespace.
NAMESPACE_PREFIX = "oeskit.namespace_prefix"
NAME = re.compile(r"[a-z0-9-]{1,40}")


class Opener(Protocol):
    """What the layer needs from the files behind namespaces (`store/namespace_files.py`)."""

    def names(self) -> list[str]: ...

    def identity(self, name: str) -> int | None: ...

    def may_create(self, token: str) -> bool:
        """Whether a request bearing `token` may create a namespace."""
        ...

    def open(self, name: str) -> Services:
        """Create the namespace if it does not exist (NamespaceLimit past the limit), open it
        and load the server's world into it if it is empty."""
        ...

    def remove(self, name: str) -> bool: ...


@dataclass(slots=True)
class _Open:
    services: Services
    identity: int | None
    active: int = 0
    dropped: bool = False


class Namespaces:
    """The layer, and the bounded map of open namespaces it keeps for this worker process."""

    def __init__(
        self, app: ASGIApp | None, default: Services, opener: Opener, errors: ErrorMapper
    ) -> None:
        self.app: ASGIApp = app  # type: ignore[assignment]  # wired by app.py once built
        self.default = default
        self.opener = opener
        self.errors = errors
        self._open: dict[str, _Open] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(PREFIX):
            # The default namespace, on every request: set and reset by hand (`using`, a
            # generator-based context manager, cost ~2.5 us a request here).
            token = CURRENT.set(self.default)
            try:
                await self.app(scope, receive, send)
            finally:
                CURRENT.reset(token)
            return
        name, slash, rest = path[len(PREFIX) :].partition("/")
        if not NAME.fullmatch(name):
            await self._refuse(
                send,
                SBX_NAMESPACE_NAME,
                f"namespace name {name[:60]!r} is not 1 to 40 of a-z, 0-9 and '-'",
            )
            return
        try:
            entry = self._entry(name, scope)
        except NamespaceLimit as exc:
            await self._refuse(
                send,
                SBX_NAMESPACE_LIMIT,
                f"{exc}; delete one (DELETE /sandbox/namespaces/{{name}}) or start the server "
                "with a higher --max-namespaces",
            )
            return
        except StoreUnavailable as exc:  # a full disk, a read-only folder: 503, logged
            response = self.errors.unavailable(exc)
            await send_json(send, response.status_code, bytes(response.body), response.headers)
            return
        except Exception as exc:  # e.g. a damaged file: a 500 in our shape, logged
            extensions = {**(scope.get("extensions") or {}), REQUEST_ID: secrets.token_hex(6)}
            response = self.errors.internal_for({**scope, "extensions": extensions}, exc)
            await send_json(send, response.status_code, bytes(response.body), response.headers)
            return
        if entry is None:  # no such namespace, and this request may not create it
            response = self.errors.not_found_for(path)
            await send_json(send, response.status_code, bytes(response.body), response.headers)
            return
        # The layers below see the path inside the namespace. `root_path` is left alone:
        # Starlette's mounts take it as a prefix *of* `path`, which this path no longer has.
        prefix = PREFIX + name
        scope = {**scope, "path": slash + rest or "/", NAMESPACE_PREFIX: prefix}
        raw = scope.pop("raw_path", None)
        if raw is not None and raw.startswith(prefix.encode()):  # else the name was %-encoded
            scope["raw_path"] = raw[len(prefix) :] or b"/"
        entry.active += 1
        try:
            with using(entry.services):
                await self.app(scope, receive, send)
        finally:
            entry.active -= 1
            if entry.dropped and entry.active == 0:
                entry.services.close()

    def _entry(self, name: str, scope: Scope | None) -> _Open | None:
        """The open namespace `name`, opened (or created) now if need be; None when it does
        not exist and `scope` (None: start-up, opening what is on disk) may not create it."""
        entry = self._open.get(name)
        identity = self.opener.identity(name)
        if entry is not None and entry.identity == identity:
            return entry
        if entry is not None:  # another worker deleted it (and maybe made it anew)
            self._drop(name)
        if identity is None and (scope is None or not self.opener.may_create(_bearer(scope))):
            return None
        services = self.opener.open(name)
        services.start_background()
        entry = self._open[name] = _Open(services, self.opener.identity(name))
        log.info("namespace %s opened", name)
        return entry

    def _drop(self, name: str) -> None:
        entry = self._open.pop(name, None)
        if entry is None:
            return
        entry.dropped = True
        if entry.active == 0:
            entry.services.close()

    def names(self) -> list[str]:
        return self.opener.names()

    def delete(self, name: str) -> bool:
        """Forget the namespace and delete its files; requests already inside it finish on
        what they hold. False if there was no such namespace."""
        self._drop(name)
        return self.opener.remove(name)

    def open_existing(self) -> None:
        """At start-up: open the namespaces already on disk, so their due jobs run."""
        for name in self.opener.names():
            try:
                self._entry(name, None)
            except Exception:  # a damaged file must not keep the server from starting
                log.exception("namespace %s could not be opened", name)

    def close(self) -> None:
        for name in list(self._open):
            self._drop(name)

    async def _refuse(self, send: Send, rule: str, message: str) -> None:
        await send_json(send, self.errors.status(rule), error_body(message, rule))


def _bearer(scope: Scope) -> str:
    """The bearer token of the request ('' without one)."""
    for key, value in scope.get("headers") or ():
        if key == b"authorization":
            kind, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if kind.lower() == "bearer" else ""
    return ""
