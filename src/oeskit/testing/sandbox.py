"""A running sandbox seen from a partner's test: who to act as, and the control-plane calls that
reset it, move its clock and arm faults. HTTP only (the server is another process).

`SandboxServer` is one `oeskit serve` process shared by many tests; `fresh()` reloads a world
into it and hands out an `OeskitSandbox`, the object the `oeskit_sandbox` fixture yields.
"""

from __future__ import annotations

import contextlib
import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from oeskit import signing, worlds
from oeskit.testing.server import Server

_WRITE_SCOPES = {"settlement_network_read", "settlement_network_write"}


class SandboxError(RuntimeError):
    """A control-plane call the fixture made was refused; the message holds the answer."""


@dataclass(frozen=True, slots=True)
class Partner:
    """The partner a test acts as: the first active, dispute-enabled partner of the world that
    has a test private key, a token with both settlement scopes, and a connection."""

    id: str
    enterprise_id: str
    token: str
    key: signing.SigningKey
    connections: tuple[str, ...]


def world_partner(world: dict[str, Any]) -> Partner:
    """The partner of `world` a test acts as (see `Partner`); ValueError if there is none."""
    for partner in world.get("partners", []):
        if not partner.get("active", True) or partner.get("clientDisputeWindowMinutes") is None:
            continue
        key = next(
            (
                k
                for k in partner.get("signingKeys", [])
                if isinstance(k, dict) and k.get("privateKey")
            ),
            None,
        )
        token = _token_for(world, partner["enterpriseId"])
        connections = tuple(
            c["id"] for c in world.get("connections", []) if c["partnerId"] == partner["id"]
        )
        if key is None or token is None or not connections:
            continue
        return Partner(
            id=partner["id"],
            enterprise_id=partner["enterpriseId"],
            token=token,
            key=signing.SigningKey(
                str(key.get("scheme", signing.ED25519)), key["publicKey"], key["privateKey"]
            ),
            connections=connections,
        )
    raise ValueError(
        "the world has no active partner with a dispute window, a test private key, "
        "a read+write token and a connection"
    )


def _token_for(world: dict[str, Any], enterprise_id: str) -> str | None:
    members = {u["id"] for u in world.get("users", []) if enterprise_id in u.get("enterprises", [])}
    for token in world.get("tokens", []):
        if token["user"] in members and set(token.get("scopes", [])) >= _WRITE_SCOPES:
            return str(token["token"])
    return None


@dataclass(frozen=True, slots=True)
class LoadedWorld:
    """A world read and validated once per session, with its JSON body ready to POST."""

    source: str
    data: dict[str, Any]
    body: bytes
    partner: Partner

    @classmethod
    def read(cls, path: Path) -> LoadedWorld:
        data = worlds.load_world_file(path)
        return cls(str(path), data, orjson.dumps(data), world_partner(data))


@dataclass
class SharedNamespace:
    """A namespace of a server someone else runs (`--oeskit-url`): the session's sandbox lives
    at `<url>/ns/<name>`, and stopping deletes the namespace instead of a process."""

    url: str
    name: str
    admin_token: str

    @property
    def base_url(self) -> str:
        return f"{self.url.rstrip('/')}/ns/{self.name}"

    def stop(self) -> None:
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        # Best effort: a server that went away has nothing left to delete.
        with (
            httpx.Client(base_url=self.url, headers=headers) as admin,
            contextlib.suppress(httpx.HTTPError),
        ):
            admin.delete(f"/sandbox/namespaces/{self.name}")


@dataclass
class SandboxServer:
    """One `oeskit serve` process (or a namespace of a shared one) and the admin client of its
    control plane."""

    server: Server | SharedNamespace
    admin_token: str
    loaded: str
    admin: httpx.Client = field(init=False)
    clients: dict[str, httpx.Client] = field(default_factory=dict)
    # True once a test had the state: the next one needs a reload even on the same world.
    dirty: bool = False

    def __post_init__(self) -> None:
        self.admin = httpx.Client(
            base_url=self.server.base_url,
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=60.0,
        )

    def control(self, method: str, path: str, body: bytes | None = None) -> Any:
        """Call /sandbox/<path>; the decoded answer, or SandboxError if it is not 200."""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        response = self.admin.request(method, "/sandbox" + path, content=body, headers=headers)
        if response.status_code != 200:
            raise SandboxError(
                f"{method} /sandbox{path} answered {response.status_code}: {response.text[:500]}"
            )
        return response.json()

    def fresh(self, world: LoadedWorld) -> OeskitSandbox:
        """A sandbox holding exactly `world`: reloaded unless the server has just started on it."""
        if self.dirty or self.loaded != world.source:
            self.control("POST", "/world", world.body)
            self.loaded = world.source
        self.dirty = True
        client = self.clients.get(world.partner.token)
        if client is None:
            client = self.clients[world.partner.token] = httpx.Client(
                base_url=self.server.base_url,
                headers={"Authorization": f"Bearer {world.partner.token}"},
                timeout=60.0,
            )
        return OeskitSandbox(self, world, client)

    def close(self) -> None:
        for client in (self.admin, *self.clients.values()):
            client.close()
        self.server.stop()


def _camel(name: str) -> str:
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)


class OeskitSandbox:
    """A fresh sandbox for one test: `url`, the partner to act as (`partner_id`, `enterprise_id`,
    `token`, `connections`), the loaded `world`, a ready `client`, and the control plane."""

    def __init__(self, owner: SandboxServer, world: LoadedWorld, client: httpx.Client) -> None:
        self._owner = owner
        self._world = world
        self.url = owner.server.base_url
        # A copy: a test may edit it (to build a variant world) without touching the next one's.
        self.world = copy.deepcopy(world.data)
        self.partner_id = world.partner.id
        self.enterprise_id = world.partner.enterprise_id
        self.token = world.partner.token
        self.connections = world.partner.connections
        self.key = world.partner.key
        #: An httpx.Client on `url` that sends the partner's bearer token.
        self.client = client
        self.stage_path = f"/api/network/v2/enterprises/{self.enterprise_id}/partners/settlements"

    def sign(self, body: dict[str, Any]) -> dict[str, Any]:
        """`body` plus its canonical `payload` and `signature`, signed with the partner's test
        key; a random `nonce` is added first when the body has none."""
        fields = dict(body)
        fields.setdefault("nonce", signing.new_nonce())
        return signing.sign_body(fields, self.key)

    def advance(self, minutes: float) -> dict[str, Any]:
        """Move the sandbox clock forward and run the jobs that became due; the clock and the
        number of jobs run (`{"clock": ..., "jobsRun": n}`)."""
        body = orjson.dumps({"advanceMinutes": minutes})
        answer: dict[str, Any] = self._owner.control("POST", "/clock", body)
        return answer

    def arm(self, fault: str, **options: Any) -> list[dict[str, Any]]:
        """Arm a fault of the sandbox (`POST /sandbox/faults`) and return every armed fault.

        Options are given in snake_case or camelCase (`external_id="x"` or `externalId="x"`).
        `external_id` means the same for each staging fault: only stagings of that externalId
        match; `enterprise_id` limits a fault to that enterprise's requests; `count` (default 1)
        is how many requests it acts on. The faults:

        - `arm("fail_after_commit", external_id=..., enterprise_id=..., count=1)`: the staging
          commits, then is answered 500 (a lost answer); replaying the same body returns the
          settlement. Needs `external_id` or `enterprise_id`.
        - `arm("hold", milliseconds=..., external_id=..., enterprise_id=..., count=1)`: the
          staging commits and its 200 is held back `milliseconds` (0-600000): a slow answer.
        - `arm("busy", retry_after_seconds=1, external_id=..., enterprise_id=..., count=1)`: the
          staging is answered 503 `OES-SRV-002` with `Retry-After` (0-3600 s) and stages nothing.
        - `arm("latency", milliseconds=..., count=1)`: the next partner API requests, reads
          included, wait `milliseconds` (0-600000) before they are handled.

        Any other option, or a missing `milliseconds`, raises `SandboxError` with the sandbox's
        400 naming the kind and the option.
        """
        body = orjson.dumps({"kind": fault, **{_camel(k): v for k, v in options.items()}})
        faults: list[dict[str, Any]] = self._owner.control("POST", "/faults", body)["faults"]
        return faults

    def reset(self) -> None:
        """Back to the world as loaded: every settlement, job, fault and clock move is gone."""
        self._owner.control("POST", "/world", self._world.body)
        self._owner.loaded = self._world.source
