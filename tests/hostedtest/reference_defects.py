"""Defect-injected copies of oeskit's reference partner, one per rule of partner-hosted.yaml,
built only here: the real app (oeskit.hosted) wrapped by tests.conformance.defects.DefectApp,
whose hooks rewrite a request (re-signing it as BitGo would) or an answer. Shipped code has no
defect switches."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from oeskit.hosted.app import PartnerConfig, create_app
from oeskit.hosted.store import HostedStore
from oeskit.signing import bitgo_jwt
from tests.conformance.defects import DefectApp
from tests.hostedtest.support import PARTNER_ID

Scope = dict[str, Any]
Reply = tuple[int, dict[str, str], bytes]
JSON = {"content-type": "application/json"}
_MAPPED = "oeskit.defect.ids"  # scope key: ids a request hook replaced, restored in the answer


@dataclass
class Injector:
    """What a defect's hooks share: BitGo's key (to re-sign what they rewrite) and memory."""

    private_pem: str
    public_pem: str
    seen: set[str] = field(default_factory=set)
    bodies: dict[str, bytes] = field(default_factory=dict)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)

    # ---- helpers ---------------------------------------------------------------------------

    def sign(self, scope: Scope, body: bytes) -> None:
        """Give the request a fresh, valid token for what it now is."""
        path = scope["raw_path"].decode() if scope.get("raw_path") else scope["path"]
        token = bitgo_jwt.sign(
            self.key(), now=int(time.time()), method=scope["method"], path=path, body=body
        )
        kept = [(k, v) for k, v in scope["headers"] if k not in (b"x-bitgo-signature",)]
        scope["headers"] = [*kept, (b"x-bitgo-signature", token.encode())]

    def __post_init__(self) -> None:
        # Parsed once: parsing a PEM private key costs far more than signing with it.
        key = serialization.load_pem_private_key(self.private_pem.encode(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        self.loaded = key

    def key(self) -> rsa.RSAPrivateKey:
        return self.loaded

    def token_problem(self, scope: Scope, body: bytes) -> str | None:
        """What the reference would find wrong with the token (a bitgo_jwt kind), or None."""
        token = dict(scope["headers"]).get(b"x-bitgo-signature")
        path = scope["raw_path"].decode() if scope.get("raw_path") else scope["path"]
        try:
            bitgo_jwt.verify(
                self.public_pem,
                token.decode() if token else None,
                now=int(time.time()),
                method=scope["method"],
                path=path,
                body=body,
            )
        except bitgo_jwt.TokenRejected as exc:
            return exc.kind
        return None

    def rewrite_path(self, scope: Scope, path: str) -> None:
        scope["path"], scope["raw_path"] = path, path.encode()

    def swap_id(self, scope: Scope, body: bytes, new: str) -> bytes:
        """The POST's allocationId/deallocationId replaced by `new` (restored in the answer)."""
        data = json.loads(body)
        key = "allocationId" if "allocationId" in data else "deallocationId"
        scope[_MAPPED] = (new, data[key])
        data[key] = new
        out = json.dumps(data).encode()
        self.sign(scope, out)
        return out


def _post_id(scope: Scope, body: bytes) -> str | None:
    if scope["method"] != "POST" or scope["path"].endswith("/connections"):
        return None
    try:
        data = json.loads(body)
        found = data.get("allocationId") or data.get("deallocationId")
    except (ValueError, AttributeError):
        return None
    return found if isinstance(found, str) else None


def _put(scope: Scope) -> tuple[str, str, str] | None:
    """(kind, id, action) of a clear or release."""
    parts = scope["path"].split("/")
    if scope["method"] != "PUT" or len(parts) != 6:
        return None
    return parts[3], parts[4], parts[5]


def restore_ids(scope: Scope, body: bytes, status: int, out: bytes) -> tuple[int, bytes]:
    if _MAPPED in scope:
        new, old = scope[_MAPPED]
        out = out.replace(new.encode(), old.encode())
    return status, out


def _rule(out: bytes) -> str | None:
    try:
        return str(json.loads(out).get("rule"))
    except (ValueError, AttributeError):
        return None


def made_up(scope: Scope, body: bytes) -> bytes:
    """A 200 record a careless partner might answer instead of refusing."""
    try:
        data = json.loads(body)
    except ValueError:
        data = {}
    data = data if isinstance(data, dict) else {}
    if scope["path"].endswith("/connections"):
        record = {k: data.get(k) for k in ("clientId", "connectionId")}
        record |= {"partnersClientId": "made-up", "partnersConnectionId": "made-up"}
    elif scope["method"] == "POST":
        noun = "Allocation" if scope["path"].endswith("/allocations") else "Deallocation"
        record = {**data, f"partners{noun}Id": "made-up", "status": "reserved"}
    else:
        kind, record_id, action = _put(scope) or ("allocation", "", "clear")
        record = {f"{kind}Id": record_id, "status": "cleared" if action == "clear" else "released"}
    return json.dumps(record).encode()


def swallow(rule: str) -> Callable[[Scope, bytes, int, bytes], tuple[int, bytes]]:
    """The refusal under `rule` is answered 200 with a made-up record instead."""

    def hook(scope: Scope, body: bytes, status: int, out: bytes) -> tuple[int, bytes]:
        return (200, made_up(scope, body)) if _rule(out) == rule else (status, out)

    return hook


async def call_app(app: Any, scope: Scope, body: bytes) -> Reply:
    """Run one request through the real app and collect its answer."""
    scope = dict(
        scope,
        headers=[(k, v) for k, v in scope["headers"] if k != b"content-length"]
        + [(b"content-length", str(len(body)).encode())],
    )
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()
        return {"type": "http.disconnect"}

    status, headers, chunks = 500, [], []

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status, headers = message["status"], message.get("headers", [])
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    kept = {k.decode(): v.decode() for k, v in headers if k.lower() != b"content-length"}
    return status, kept, b"".join(chunks)


async def also_put(
    inj: Injector, app: Any, scope: Scope, kind: str, record_id: str, action: str
) -> None:
    """A second, internal call: the same record cleared or released behind BitGo's back."""
    path = f"/bitgo/v1/{kind}/{record_id}/{action}"
    inner = dict(scope, method="PUT", path=path, raw_path=path.encode(), query_string=b"")
    inj.sign(inner, b"")
    await call_app(app, inner, b"")


def _record_status(out: bytes) -> str | None:
    try:
        return str(json.loads(out).get("status"))
    except (ValueError, AttributeError):
        return None


def _set_status(out: bytes, old: str, new: str) -> bytes:
    try:
        data = json.loads(out)
    except ValueError:
        return out
    if isinstance(data, dict) and data.get("status") == old:
        data["status"] = new
        data.pop("rejectionReason", None)
    return json.dumps(data).encode()


# ---- the defects, one per rule ------------------------------------------------------------------

Hooks = tuple[Any, Any, bool]  # (on_request, on_response, check the binding claims)


def resign_when(*kinds: str) -> Callable[[Injector], Hooks]:
    """Tokens the reference refuses for one of `kinds` (None: valid ones) are swapped for a
    valid one: the partner does not make that check."""

    def build(inj: Injector) -> Hooks:
        async def hook(scope: Scope, body: bytes, app: Any) -> bytes:
            if inj.token_problem(scope, body) in kinds:
                inj.sign(scope, body)
            return body

        return hook, None, True

    return build


def _other_kind_apart(inj: Injector) -> Hooks:
    """Deallocation ids live in an index of their own (mapped apart before the real app)."""

    async def hook(scope: Scope, body: bytes, app: Any) -> bytes:
        put = _put(scope)
        if put and put[0] == "deallocation":
            mapped = str(uuid.uuid5(uuid.NAMESPACE_URL, put[1]))
            scope[_MAPPED] = (mapped, put[1])
            inj.rewrite_path(scope, f"/bitgo/v1/deallocation/{mapped}/{put[2]}")
            inj.sign(scope, body)
        elif _post_id(scope, body) and scope["path"].endswith("/deallocations"):
            return inj.swap_id(
                scope, body, str(uuid.uuid5(uuid.NAMESPACE_URL, str(_post_id(scope, body))))
            )
        return body

    return hook, restore_ids, True


def _new_record_when(
    test: Callable[[Injector, str, bytes], bool], hold: float = 0.0
) -> Callable[[Injector], Hooks]:
    """A POST whose id and body pass `test` is made a new record under a fresh id (the answer
    shows the id BitGo sent). `inj.bodies` holds each id's body while it is in flight
    (`inflight:ID`) and once it was answered 200 (`stored:ID`). `hold` keeps the first
    allocation request of each connection in flight that long (a slow database where
    hosted-test races: the first allocation of a new connection; holding every allocation
    would add `hold` to each of the run's ~60)."""

    def build(inj: Injector) -> Hooks:
        async def hook(scope: Scope, body: bytes, app: Any) -> bytes:
            record_id = _post_id(scope, body)
            if record_id is None:
                return body
            if test(inj, record_id, body):
                return inj.swap_id(scope, body, str(uuid.uuid4()))
            scope["oeskit.defect.first"] = record_id
            inj.bodies[f"inflight:{record_id}"] = body
            if hold and scope["path"].endswith("/allocations"):
                connection = f"allocating:{json.loads(body).get('connectionId')}"
                if connection not in inj.seen:
                    inj.seen.add(connection)
                    await asyncio.sleep(hold)
            return body

        def answer(scope: Scope, body: bytes, status: int, out: bytes) -> tuple[int, bytes]:
            first = scope.get("oeskit.defect.first")
            if first:
                inj.bodies.pop(f"inflight:{first}", None)
                if status == 200:
                    inj.bodies.setdefault(f"stored:{first}", body)
            put = _put(scope)
            if put and status == 200:
                inj.seen.add(f"settled:{put[1]}")
            return restore_ids(scope, body, status, out)

        return hook, answer, True

    return build


def _credit_at_once(inj: Injector) -> Hooks:
    """A new allocation is cleared at once (and still answered reserved)."""

    async def hook(scope: Scope, body: bytes, app: Any) -> bytes | Reply:
        if scope["method"] != "POST" or not scope["path"].endswith("/allocations"):
            return body
        reply = await call_app(app, scope, body)
        if reply[0] == 200 and _record_status(reply[2]) == "reserved":
            await also_put(inj, app, scope, "allocation", str(_post_id(scope, body)), "clear")
        return reply

    return hook, None, True


def _hold_released_at_once(inj: Injector) -> Hooks:
    """A held deallocation is released at once (and still answered reserved)."""

    async def hook(scope: Scope, body: bytes, app: Any) -> bytes | Reply:
        if scope["method"] != "POST" or not scope["path"].endswith("/deallocations"):
            return body
        reply = await call_app(app, scope, body)
        if reply[0] == 200 and _record_status(reply[2]) == "reserved":
            await also_put(inj, app, scope, "deallocation", str(_post_id(scope, body)), "release")
        return reply

    return hook, None, True


def _clear_without_credit(inj: Injector) -> Hooks:
    """An allocation's clear is answered cleared but never done."""

    async def hook(scope: Scope, body: bytes, app: Any) -> bytes | Reply:
        put = _put(scope)
        if put and put[0] == "allocation" and put[2] == "clear" and put[1] in inj.records:
            record = {**inj.records[put[1]], "status": "cleared"}
            return 200, JSON, json.dumps(record).encode()
        return body

    def answer(scope: Scope, body: bytes, status: int, out: bytes) -> tuple[int, bytes]:
        if status == 200 and scope["method"] == "POST" and scope["path"].endswith("/allocations"):
            record = json.loads(out)
            if record.get("status") == "reserved":
                inj.records[record["allocationId"]] = record
        return status, out

    return hook, answer, True


def _do_instead(kind: str, asked: str, done: str) -> Callable[[Injector], Hooks]:
    """A `kind`'s `asked` PUT does `done` instead (and answers as if it did `asked`)."""
    said = {"clear": "cleared", "release": "released"}

    def build(inj: Injector) -> Hooks:
        async def hook(scope: Scope, body: bytes, app: Any) -> bytes:
            put = _put(scope)
            if put and put[0] == kind and put[2] == asked:
                scope["oeskit.defect.instead"] = True
                inj.rewrite_path(scope, f"/bitgo/v1/{kind}/{put[1]}/{done}")
                inj.sign(scope, body)
            return body

        def answer(scope: Scope, body: bytes, status: int, out: bytes) -> tuple[int, bytes]:
            if scope.get("oeskit.defect.instead") and status == 200:
                return status, _set_status(out, said[done], said[asked])
            return status, out

        return hook, answer, True

    return build


def _foreign_partner_accepted(inj: Injector) -> Hooks:
    async def hook(scope: Scope, body: bytes, app: Any) -> bytes:
        if scope["method"] == "POST" and scope["path"].endswith("/connections"):
            try:
                data = json.loads(body)
            except ValueError:
                return body
            if isinstance(data, dict) and "partnerId" in data:
                body = json.dumps({**data, "partnerId": PARTNER_ID}).encode()
                inj.sign(scope, body)
        return body

    return hook, None, True


def _repeat_refused(inj: Injector) -> Hooks:
    """A clear or release already done is refused with 409 the second time."""

    async def hook(scope: Scope, body: bytes, app: Any) -> bytes | Reply:
        put = _put(scope)
        if put and f"{put[1]}/{put[2]}" in inj.seen:
            return 409, JSON, b'{"error": "already done"}'
        return body

    def answer(scope: Scope, body: bytes, status: int, out: bytes) -> tuple[int, bytes]:
        put = _put(scope)
        if put and status == 200:
            inj.seen.add(f"{put[1]}/{put[2]}")
        return status, out

    return hook, answer, True


def _put_body_refused(inj: Injector) -> Hooks:
    async def hook(scope: Scope, body: bytes, app: Any) -> bytes | Reply:
        if _put(scope) and body:
            return 400, JSON, b'{"error": "a PUT takes no body"}'
        return body

    return hook, None, True


def _on_answer(
    change: Callable[[Scope, int, bytes], tuple[int, bytes]],
) -> Callable[[Injector], Hooks]:
    def build(inj: Injector) -> Hooks:
        return None, lambda scope, body, status, out: change(scope, status, out), True

    return build


def _echo_wrong_client(scope: Scope, status: int, out: bytes) -> tuple[int, bytes]:
    if status == 200 and scope["path"].endswith("/connections"):
        return status, json.dumps({**json.loads(out), "clientId": str(uuid.uuid4())}).encode()
    return status, out


def _overdraw_answered_reserved(scope: Scope, status: int, out: bytes) -> tuple[int, bytes]:
    if status == 200 and scope["path"].endswith("/deallocations"):
        return status, _set_status(out, "rejected", "reserved")
    return status, out


def _drop_partners_client_id(scope: Scope, status: int, out: bytes) -> tuple[int, bytes]:
    if status == 200 and not scope["path"].endswith("/connections"):
        data = json.loads(out)
        data.pop("partnersClientId", None)
        return status, json.dumps(data).encode()
    return status, out


def _unbound(inj: Injector) -> Hooks:
    return None, None, False  # the reference's own switch: binding claims not checked


DEFECTS: dict[str, Callable[[Injector], Hooks]] = {
    "PH-SIG-001": resign_when(bitgo_jwt.MISSING),
    "PH-SIG-002": resign_when(bitgo_jwt.INVALID),
    "PH-SIG-003": resign_when(bitgo_jwt.EXPIRED),
    "PH-SIG-004": resign_when(bitgo_jwt.TOO_LONG),
    "PH-SIG-005": resign_when(None),  # every valid token made fresh: a jti is never seen twice
    "PH-SIG-006": _unbound,
    "PH-REQ-001": lambda inj: (None, swallow("PH-REQ-001"), True),
    "PH-REQ-002": _foreign_partner_accepted,
    "PH-CON-001": _on_answer(_echo_wrong_client),
    "PH-CON-002": lambda inj: (None, swallow("PH-CON-002"), True),
    "PH-CON-003": lambda inj: (None, swallow("PH-CON-003"), True),
    "PH-CON-004": lambda inj: (None, swallow("PH-CON-004"), True),
    "PH-IDEM-001": _new_record_when(lambda inj, i, b: inj.bodies.get(f"stored:{i}") == b),
    "PH-IDEM-002": lambda inj: (None, swallow("PH-IDEM-002"), True),
    "PH-IDEM-003": _other_kind_apart,
    "PH-IDEM-004": _new_record_when(
        lambda inj, i, b: inj.bodies.get(f"inflight:{i}") == b, hold=0.1
    ),
    "PH-IDEM-005": _new_record_when(
        lambda inj, i, b: f"settled:{i}" in inj.seen and inj.bodies.get(f"stored:{i}") == b
    ),
    "PH-ALC-001": _credit_at_once,
    "PH-ALC-002": _clear_without_credit,
    "PH-ALC-003": _do_instead("allocation", "release", "clear"),
    "PH-DEA-001": _hold_released_at_once,
    "PH-DEA-002": _on_answer(_overdraw_answered_reserved),
    "PH-DEA-003": _do_instead("deallocation", "clear", "release"),
    "PH-DEA-004": _do_instead("deallocation", "release", "clear"),
    "PH-PUT-001": lambda inj: (None, swallow("PH-PUT-001"), True),
    "PH-PUT-002": lambda inj: (None, swallow("PH-PUT-002"), True),
    "PH-PUT-003": _repeat_refused,
    "PH-PUT-004": _put_body_refused,
    "PH-RSP-001": _on_answer(_drop_partners_client_id),
}


# Rules a defect breaks besides its own, because of how it is planted (the suite blames
# nothing else; tests/hostedtest/test_reference_defects.py holds it to that).
ALSO_BLAMED: dict[str, frozenset[str]] = {
    # Cleared at once: it can no longer be released (and a release with a body is refused),
    # and racing duplicates that arrive after the first may see it cleared, not reserved.
    "PH-ALC-001": frozenset({"PH-ALC-003", "PH-PUT-004", "PH-IDEM-004"}),
    # A clear that was never done: a release afterwards succeeds.
    "PH-ALC-002": frozenset({"PH-PUT-002"}),
    # A release that clears: the record is cleared, so it is not "released" when seen again.
    "PH-ALC-003": frozenset({"PH-IDEM-005", "PH-PUT-002", "PH-PUT-003"}),
    # A hold released at once cannot be cleared.
    "PH-DEA-001": frozenset({"PH-DEA-003"}),
    # Settled records are retried through the same path, and so is a racing duplicate that
    # arrives once the first was answered (how many do depends on the machine's speed).
    "PH-IDEM-001": frozenset({"PH-IDEM-005", "PH-IDEM-004"}),
    # A made-up record, or a 400 the PUTs do not document, breaks the contract too.
    "PH-PUT-001": frozenset({"PH-RSP-001"}),
    "PH-PUT-002": frozenset({"PH-RSP-001"}),
    "PH-PUT-004": frozenset({"PH-RSP-001"}),
    "PH-REQ-001": frozenset({"PH-RSP-001"}),
}


def reference_app(
    directory: Path, pair: bitgo_jwt.RsaKeyPair, defect: str | None = None
) -> tuple[Any, tuple[str, ...]]:
    """The reference partner over a new SQLite file with 20 fresh accounts, with `defect` (a
    rule id) planted; and the accounts' connection tokens."""
    store = HostedStore(directory / "partner.db")
    store.partner_id(PARTNER_ID)
    tokens = tuple(a.connection_token for a in store.create_accounts(20))
    on_request, on_response, binding = None, None, True
    if defect is not None:
        on_request, on_response, binding = DEFECTS[defect](
            Injector(pair.private_pem, pair.public_pem)
        )
    app = create_app(PartnerConfig(PARTNER_ID, pair.public_pem, body_binding=binding), store)
    return DefectApp(app, on_request, on_response), tokens
