"""Every error rule of the contract's catalogue (`x-oeskit-rules`, status >= 400): a request that
breaks it gets the catalogue's status and an `{error, rule}` body, and changes nothing."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from oeskit import signing, spec
from tests.api.conftest import (
    BROKER,
    BROKER_ALPHA,
    BROKER_BETA,
    DISPUTES,
    GAMMA,
    INSTANT_GAMMA,
    PAST_SETTLEMENT,
    SETTLEMENTS,
    SIGNING,
    SandboxFactory,
    load_world,
    world_with,
)
from tests.conftest import (
    ALPHA,
    BETA,
    EXCHANGE,
    STAGE,
    Sandbox,
    StoreBackend,
    partner_key,
    write_lock_held,
)

pytestmark = pytest.mark.anyio

UNLICENSED = "5a1f7f0e-0c1d-4f7e-9a0b-7d0d6b1e0003"
INACTIVE = "5a1f7f0e-0c1d-4f7e-9a0b-7d0d6b1e0004"
NODISPUTE = "5a1f7f0e-0c1d-4f7e-9a0b-7d0d6b1e0005"
UNKNOWN_CONNECTION = "00000000-0000-4000-8000-000000000000"
EXCHANGE_STAGE = STAGE.format(enterprise="ent-exchange")
BEARER = {"Authorization": "Bearer demo-exchange-token"}

ANY: Any = object()  # an extra property whose value the case cannot know (a generated id)
Send = Callable[[], Awaitable[httpx.Response]]
Prepare = Callable[[Sandbox], Awaitable[Send]]


@dataclass(frozen=True)
class Case:
    """One way to break one rule: `prepare` sets the scene and returns the offending request."""

    rule: str
    name: str
    prepare: Prepare
    mentions: str = ""  # a word the error message must contain, to prove it says what is wrong
    settings: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # the body's other properties, exactly

    @property
    def id(self) -> str:
        return f"{self.rule}-{self.name}"


# --- request builders ---------------------------------------------------------------------------

AWAITING = "0193a0c2-ab6d-7c0d-8c7d-6e5f8091a2b3"  # a deallocation awaiting the partner's update


def allocation_update(
    route: str = "deallocation",
    record_status: str = "reserved",
    after_signing: Callable[[dict[str, Any]], None] | None = None,
    **changes: Any,
) -> Prepare:
    """A partner's signed update (PUT .../partners/{route}s) of a world's deallocation in
    `record_status`; `changes` are signed, `after_signing` edits the body afterwards."""

    async def prepare(sb: Sandbox) -> Send:
        world = copy.deepcopy(sb.world)
        world["allocations"] = [
            {
                "id": AWAITING,
                "type": "deallocation",
                "connectionId": ALPHA,
                "currency": "ofcbtc",
                "quantity": "2000",
                "status": record_status,
                "partnerExternalId": "dealloc-9",
            }
        ]
        await load_world(sb, world)
        fields: dict[str, Any] = {
            f"{route}Id": AWAITING,
            "amount": {"currency": "BTC", "quantity": "2000"},
            "clientId": "client-alpha",
            "connectionId": ALPHA,
            "partnersClientId": "alpha",
            "partnersConnectionId": "alpha-at-exchange",
            f"partners{route.capitalize()}Id": "dealloc-9",
            "status": "cleared",
            "nonce": signing.new_nonce(),
            **changes,
        }
        payload = json.dumps(fields)
        body = {
            **fields,
            "payload": payload,
            "signature": signing.sign_message(payload, partner_key(sb.world, EXCHANGE)),
        }
        if after_signing is not None:
            after_signing(body)
        path = f"/api/network/v1/enterprises/ent-exchange/partners/{route}s"
        return lambda: sb.client.put(path, json=body, headers=BEARER)

    return prepare


def signed(
    amounts: dict[str, Any] | None = None, *, partner: str | None = None, **overrides: Any
) -> Prepare:
    """A correctly signed staging request for the exchange (or `partner` on its enterprise)."""

    async def prepare(sb: Sandbox) -> Send:
        fields = sb.fields(amounts, **overrides)
        body = sb.sign(fields, partner) if partner else sb.sign(fields)
        return lambda: sb.stage(body)

    return prepare


def broker(amounts: dict[str, Any]) -> Prepare:
    async def prepare(sb: Sandbox) -> Send:
        body = sb.sign(sb.fields(amounts), BROKER)
        return lambda: sb.stage(body, token="demo-broker-token", enterprise="ent-broker")

    return prepare


def as_partner(
    token: str, enterprise: str, partner: str, amounts: dict[str, Any] | None = None
) -> Prepare:
    async def prepare(sb: Sandbox) -> Send:
        fields = sb.fields(amounts if amounts is not None else {})
        body = sb.sign(fields, partner)
        return lambda: sb.stage(body, token=token, enterprise=enterprise)

    return prepare


def tampered(change: Callable[[dict[str, Any]], None], **field_overrides: Any) -> Prepare:
    """A signed body that `change` edits after signing."""

    async def prepare(sb: Sandbox) -> Send:
        body = sb.sign(sb.fields(**field_overrides))
        change(body)
        return lambda: sb.stage(body)

    return prepare


def raw(
    content: bytes,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
    method: str = "POST",
    path: str = EXCHANGE_STAGE,
) -> Prepare:
    async def prepare(sb: Sandbox) -> Send:
        all_headers = {**BEARER, "Content-Type": content_type, **(headers or {})}
        return lambda: sb.client.request(method, path, content=content, headers=all_headers)

    return prepare


def get(path: str, token: str = "demo-exchange-token", **params: Any) -> Prepare:
    async def prepare(sb: Sandbox) -> Send:
        return lambda: sb.get(path, token=token, **params)

    return prepare


def with_headers(headers: dict[str, str]) -> Prepare:
    async def prepare(sb: Sandbox) -> Send:
        body = sb.sign(sb.fields())
        return lambda: sb.client.post(EXCHANGE_STAGE, json=body, headers=headers)

    return prepare


def without(name: str) -> Prepare:
    async def prepare(sb: Sandbox) -> Send:
        body = sb.sign(sb.fields())
        del body[name]
        return lambda: sb.stage(body)

    return prepare


def set_field(name: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        body[name] = value

    return change


def set_amount(connection: str, code: str, value: str) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        body["settlementAmounts"] = copy.deepcopy(body["settlementAmounts"])
        body["settlementAmounts"][connection][code] = value

    return change


def resigned_payload_kept_signature() -> Prepare:
    """The amount changed in both payload and body after signing: the old signature is stale."""

    async def prepare(sb: Sandbox) -> Send:
        fields = sb.fields({ALPHA: {"BTC": "-1000"}})
        body = sb.sign(fields)
        changed = {**fields, "settlementAmounts": {ALPHA: {"BTC": "-1001"}}}
        body["settlementAmounts"] = changed["settlementAmounts"]
        body["payload"] = signing.canonical_payload(changed)
        return lambda: sb.stage(body)

    return prepare


def signed_by(key: signing.SigningKey) -> Prepare:
    async def prepare(sb: Sandbox) -> Send:
        body = signing.sign_body(sb.fields(), key)
        return lambda: sb.stage(body)

    return prepare


def other_partners_key() -> Prepare:
    async def prepare(sb: Sandbox) -> Send:
        body = sb.sign(sb.fields(), BROKER)
        return lambda: sb.stage(body)

    return prepare


def staged_then(change: Callable[[dict[str, Any]], dict[str, Any]]) -> Prepare:
    """Stage a settlement, then send the same externalId with `change` applied to its fields."""

    async def prepare(sb: Sandbox) -> Send:
        fields = sb.fields({ALPHA: {"BTC": "-1000"}}, notes="daily")
        first = await sb.stage(sb.sign(fields))
        assert first.status_code == 200, first.text
        second = change({**fields, "nonce": signing.new_nonce()})
        body = sb.sign(second)
        return lambda: sb.stage(body)

    return prepare


def nonce_reused() -> Prepare:
    async def prepare(sb: Sandbox) -> Send:
        await load_world(sb, world_with(sb.world, enforceUniqueNonce=True))
        nonce = signing.new_nonce()
        first = await sb.stage(sb.sign(sb.fields({ALPHA: {"BTC": "-1000"}}, nonce=nonce)))
        assert first.status_code == 200, first.text
        body = sb.sign(sb.fields({ALPHA: {"BTC": "-2000"}}, nonce=nonce))
        return lambda: sb.stage(body)

    return prepare


def not_a_partner() -> Prepare:
    """A licensed enterprise that never registered as a partner, with a member's token."""

    async def prepare(sb: Sandbox) -> Send:
        world = copy.deepcopy(sb.world)
        world["enterprises"].append(
            {"id": "ent-prospect", "name": "Prospect Ltd", "oesLicense": True}
        )
        world["users"].append({"id": "user-prospect-ops", "enterprises": ["ent-prospect"]})
        world["tokens"].append(
            {
                "token": "prospect-token",
                "user": "user-prospect-ops",
                "scopes": ["settlement_network_read", "settlement_network_write"],
            }
        )
        await load_world(sb, world)
        body = sb.sign(sb.fields({}))
        return lambda: sb.stage(body, token="prospect-token", enterprise="ent-prospect")

    return prepare


def too_large_streamed() -> Prepare:
    """A chunked body with no Content-Length that grows past the limit."""

    async def prepare(sb: Sandbox) -> Send:
        async def chunks() -> Any:
            for _ in range(8):
                yield b" " * 1024

        return lambda: sb.client.post(
            EXCHANGE_STAGE, content=chunks(), headers={**BEARER, "Content-Type": "application/json"}
        )

    return prepare


def body_too_slow() -> Prepare:
    """A body whose second chunk never comes (the case sets the body timeout to 0.2 s)."""

    async def prepare(sb: Sandbox) -> Send:
        async def chunks() -> Any:
            yield b'{"externalId": '
            await asyncio.sleep(30)
            yield b'"late"}'

        async def send() -> httpx.Response:
            return await sb.client.post(
                EXCHANGE_STAGE,
                content=chunks(),
                headers={**BEARER, "Content-Type": "application/json"},
            )

        return send

    return prepare


def committed_then_fault() -> Prepare:
    async def prepare(sb: Sandbox) -> Send:
        fields = sb.fields({ALPHA: {"BTC": "-1000"}})
        armed = await sb.admin(
            "POST",
            "/faults",
            json={"kind": "fail_after_commit", "externalId": fields["externalId"], "count": 1},
        )
        assert armed.status_code == 200, armed.text
        body = sb.sign(fields)
        return lambda: sb.stage(body)

    return prepare


def database_locked() -> Prepare:
    """Another connection holds the write lock for the whole request."""

    async def prepare(sb: Sandbox) -> Send:
        body = sb.sign(sb.fields({ALPHA: {"BTC": "-1000"}}))
        return lambda: database_locked_send(sb, body)

    return prepare


def database_read_only() -> Prepare:
    """The server's connection cannot write (SQLITE_READONLY, as for a read-only file)."""

    async def prepare(sb: Sandbox) -> Send:
        body = sb.sign(sb.fields({ALPHA: {"BTC": "-1000"}}))
        sb.store.conn.execute("PRAGMA query_only = ON")
        return lambda: sb.stage(body)

    return prepare


def database_deleted() -> Prepare:
    """The database files are deleted under the running server."""

    async def prepare(sb: Sandbox) -> Send:
        body = sb.sign(sb.fields({ALPHA: {"BTC": "-1000"}}))
        for suffix in ("", "-wal", "-shm"):
            Path(sb.store.path + suffix).unlink(missing_ok=True)
        return lambda: sb.stage(body)

    return prepare


# --- the table ------------------------------------------------------------------------------------

FRESH = {"run_jobs": False}  # a setting like the shared sandbox's: it only asks for a fresh one

A = "OES-AMT-"
CASES: list[Case] = [
    # 401: the bearer token (step 1)
    Case("OES-AUTH-001", "no-token", with_headers({}), "Bearer"),
    Case("OES-AUTH-001", "unknown-token", with_headers({"Authorization": "Bearer nope"}), "token"),
    Case(
        "OES-AUTH-001",
        "not-bearer",
        with_headers({"Authorization": "Basic ZGVtbzpkZW1v"}),
        "Bearer",
    ),
    # 403 scope and 401 membership (step 3)
    Case(
        "OES-AUTH-002",
        "read-only-token",
        as_partner("demo-readonly-token", "ent-exchange", EXCHANGE),
        "settlement_network_write",
    ),
    Case(
        "OES-AUTH-003",
        "outsider",
        as_partner("demo-outsider-token", "ent-exchange", EXCHANGE),
        "member",
    ),
    Case(
        "OES-AUTH-003",
        "unknown-enterprise",
        as_partner("demo-exchange-token", "ent-nowhere", EXCHANGE),
        "member",
    ),
    # 403 the enterprise's standing (step 4)
    Case(
        "OES-ACC-001",
        "unlicensed",
        as_partner("demo-unlicensed-token", "ent-unlicensed", UNLICENSED),
        "license",
    ),
    Case("OES-ACC-002", "not-a-partner", not_a_partner(), "not an OES partner"),
    Case(
        "OES-ACC-003",
        "inactive",
        as_partner("demo-inactive-token", "ent-inactive", INACTIVE),
        "inactive",
    ),
    Case(
        "OES-ACC-004",
        "no-disputes",
        as_partner("demo-nodispute-token", "ent-nodispute", NODISPUTE),
        "v1",
    ),
    # 400 the body itself (step 2)
    Case("OES-REQ-001", "invalid-json", raw(b'{"externalId": "x",'), "JSON"),
    Case("OES-REQ-001", "invalid-utf8", raw(b'{"externalId": "caf\xe9"}'), "UTF-8"),
    Case("OES-REQ-002", "missing-nonce", without("nonce"), "nonce"),
    Case("OES-REQ-002", "missing-cutoffAt", without("cutoffAt"), "cutoffAt"),
    Case("OES-REQ-002", "empty-notes", signed(notes=""), "notes"),
    Case("OES-REQ-002", "externalId-not-string", signed(externalId=17), "externalId"),
    Case("OES-REQ-002", "cutoffAt-not-a-date", signed(cutoffAt="yesterday"), "cutoffAt"),
    Case(
        "OES-REQ-002", "cutoffAt-without-offset", signed(cutoffAt="2026-11-01T00:00:00"), "cutoffAt"
    ),
    Case(
        "OES-REQ-002", "cutoffAt-leap-second", signed(cutoffAt="2026-06-30T23:59:60Z"), "cutoffAt"
    ),
    Case(
        "OES-REQ-002", "cutoffAt-out-of-range", signed(cutoffAt="0000-01-01T00:00:00Z"), "cutoffAt"
    ),
    Case("OES-REQ-002", "body-not-object", raw(b'["not", "an", "object"]'), "object"),
    # generous bounds (OES-REQ-009): a string past its maxLength, an array past its maxItems
    Case("OES-REQ-009", "notes-too-long", signed(notes="n" * 10_001), "/notes"),
    Case("OES-REQ-009", "amount-too-long", signed({ALPHA: {"BTC": "9" * 5000}}), "1000"),
    Case(
        "OES-REQ-009",
        "full-units-amount-too-long",
        broker({BROKER_ALPHA: {"BTC": "1" * 4300 + ".5"}, BROKER_BETA: {"BTC": "-1"}}),
        "/settlementAmounts/" + BROKER_ALPHA + "/BTC",
    ),
    Case("OES-REQ-009", "nonce-too-long", signed(nonce="f" * 1025), "at most 1024"),
    Case(
        "OES-REQ-009",
        "filter-with-too-many-values",
        get(SETTLEMENTS, externalIds=[f"e{i}" for i in range(1001)]),
        "at most 1000 values",
    ),
    Case(
        "OES-REQ-009",
        "signing-notes-too-long",
        get(SIGNING, externalId="x", nonce="n", settlementAmounts="{}", notes="n" * 10_001),
        "notes",
    ),
    Case("OES-REQ-002", "empty-body", raw(b""), "body"),
    Case(
        "OES-REQ-003",
        "declared-length",
        signed(notes="x" * 4096),
        "limit",
        settings={"body_limit": 2048},
    ),
    Case("OES-REQ-003", "streamed", too_large_streamed(), "limit", settings={"body_limit": 2048}),
    Case(
        "OES-REQ-007",
        "body-too-slow",
        body_too_slow(),
        "did not arrive within 0.2 s",
        settings={"body_timeout_s": 0.2},
    ),
    Case(
        "OES-REQ-004",
        "unknown-route",
        get("/api/network/v3/enterprises/ent-exchange/nothing"),
        "route",
    ),
    Case("OES-REQ-005", "get-on-staging-route", get(EXCHANGE_STAGE), "GET"),
    Case("OES-REQ-005", "delete-on-staging-route", raw(b"", method="DELETE"), "DELETE"),
    Case(
        "OES-REQ-006", "text-plain", raw(b'{"externalId": "x"}', "text/plain"), "application/json"
    ),
    # 400/401 the signature (steps 5, 6)
    Case("OES-SIG-001", "not-hex", tampered(set_field("signature", "zz" * 64)), "hex"),
    Case("OES-SIG-001", "wrong-length", tampered(set_field("signature", "ab" * 10)), "bytes"),
    Case(
        "OES-SIG-001",
        "bitcoin-header-out-of-range",
        tampered(set_field("signature", "00" * 65)),
        "header",
    ),
    Case("OES-SIG-002", "payload-not-json", tampered(set_field("payload", "externalId=x")), "JSON"),
    Case("OES-SIG-002", "payload-json-array", tampered(set_field("payload", "[1, 2]")), "object"),
    Case("OES-SIG-003", "notes-only-in-body", tampered(set_field("notes", "added later")), "notes"),
    Case(
        "OES-SIG-003",
        "amount-changed-in-body",
        tampered(set_amount(ALPHA, "BTC", "-999"), settlementAmounts={ALPHA: {"BTC": "-1000"}}),
        "settlementAmounts",
    ),
    Case(
        "OES-SIG-003",
        "cutoffAt-respelled",
        tampered(set_field("cutoffAt", "2026-11-01T00:00:00Z")),
        "cutoffAt",
    ),
    Case(
        "OES-SIG-004",
        "unregistered-key",
        signed_by(signing.generate("ed25519")),
        "verification failed",
    ),
    Case(
        "OES-SIG-004",
        "unregistered-bitcoin-key",
        signed_by(signing.generate("bitcoin-message")),
        "verification failed",
    ),
    Case("OES-SIG-004", "another-partners-key", other_partners_key(), "verification failed"),
    Case(
        "OES-SIG-004",
        "amount-changed-after-signing",
        resigned_payload_kept_signature(),
        "verification failed",
    ),
    # 409 idempotency (step 7)
    Case(
        "OES-IDEM-002",
        "different-notes",
        staged_then(lambda f: {**f, "notes": "changed"}),
        "different properties",
        extra={"settlementId": ANY},
    ),
    Case(
        "OES-IDEM-002",
        "different-amount",
        staged_then(lambda f: {**f, "settlementAmounts": {ALPHA: {"BTC": "-1001"}}}),
        "different properties",
        extra={"settlementId": ANY},
    ),
    Case(
        "OES-IDEM-002",
        "different-cutoff-instant",
        staged_then(lambda f: {**f, "cutoffAt": "2026-11-01T00:00:01.000Z"}),
        "different properties",
        extra={"settlementId": ANY},
    ),
    Case(
        "OES-IDEM-002",
        "invalid-amounts-on-replay",
        staged_then(lambda f: {**f, "settlementAmounts": {ALPHA: {"DOGE": "1"}}}),
        "different properties",
        extra={"settlementId": ANY},
    ),
    Case("OES-IDEM-003", "nonce-reused", nonce_reused(), "nonce"),
    # 400 the amounts (step 8)
    Case(
        A + "001",
        "mixed-shapes",
        signed({ALPHA: {"BTC": "-1", BETA: {"BTC": "1"}}}),
        "settlement amounts",
    ),
    Case(A + "001", "number-leaf", signed({ALPHA: {"BTC": -1}}), "string"),
    Case(
        A + "001",
        "signing-get-amounts-in-neither-shape",
        get(SIGNING, externalId="x", nonce="n", settlementAmounts='{"a": {"BTC": 1}}'),
        "settlement amounts",
    ),
    Case(A + "001", "connection-not-object", signed({ALPHA: "-1"}), "settlement amounts"),
    Case(A + "001", "too-deep", signed({ALPHA: {BETA: {"BTC": {"x": "1"}}}}), "settlement amounts"),
    Case(
        A + "002",
        "unknown-connection",
        signed({UNKNOWN_CONNECTION: {"BTC": "-1"}}),
        UNKNOWN_CONNECTION,
    ),
    Case(A + "002", "foreign-connection", signed({BROKER_ALPHA: {"BTC": "-1"}}), BROKER_ALPHA),
    Case(
        A + "002", "v1-partners-connection", signed({INSTANT_GAMMA: {"BTC": "-1"}}), INSTANT_GAMMA
    ),
    Case(A + "002", "not-a-uuid", signed({"alpha-at-exchange": {"BTC": "-1"}}), "UUID"),
    Case(
        A + "002",
        "unknown-nested-destination",
        signed({ALPHA: {UNKNOWN_CONNECTION: {"BTC": "-1"}}}),
        UNKNOWN_CONNECTION,
    ),
    Case(A + "003", "unknown-currency", signed({ALPHA: {"DOGE": "-1"}}), "DOGE"),
    Case(A + "003", "lowercase-code", signed({ALPHA: {"btc": "-1"}}), "btc"),
    Case(A + "003", "bitgo-code", signed({ALPHA: {"ofcbtc": "-1"}}), "ofcbtc"),
    Case(A + "004", "exponent", signed({ALPHA: {"BTC": "1e3"}}), "1e3"),
    Case(A + "004", "plus-sign", signed({ALPHA: {"BTC": "+5"}}), "+5"),
    Case(A + "004", "hex", signed({ALPHA: {"BTC": "0x1f"}}), "0x1f"),
    Case(A + "004", "leading-space", signed({ALPHA: {"BTC": " 12"}}), "12"),
    Case(A + "004", "trailing-space", signed({ALPHA: {"BTC": "12 "}}), "12"),
    Case(A + "004", "decimal-in-base-units", signed({ALPHA: {"BTC": "1.5"}}), "1.5"),
    Case(A + "004", "empty-string", signed({ALPHA: {"BTC": ""}}), "BTC"),
    Case(A + "004", "not-a-number", signed({ALPHA: {"BTC": "NaN"}}), "NaN"),
    Case(A + "004", "unicode-digits", signed({ALPHA: {"BTC": "\u0661\u0662"}}), "BTC"),
    Case(
        A + "004",
        "full-units-exponent",
        broker({BROKER_ALPHA: {"BTC": "1e-3"}, BROKER_BETA: {"BTC": "-0.001"}}),
        "1e-3",
    ),
    Case(
        A + "004",
        "full-units-bare-point",
        broker({BROKER_ALPHA: {"BTC": ".5"}, BROKER_BETA: {"BTC": "-0.5"}}),
        ".5",
    ),
    Case(A + "005", "zero", signed({ALPHA: {"BTC": "0"}}), "zero"),
    Case(A + "005", "minus-zero", signed({ALPHA: {"BTC": "-0"}}), "zero"),
    Case(A + "005", "padded-zero", signed({ALPHA: {"BTC": "000"}}), "zero"),
    Case(
        A + "005",
        "full-units-zero",
        broker({BROKER_ALPHA: {"BTC": "0.000"}, BROKER_BETA: {"BTC": "-0.0"}}),
        "zero",
    ),
    Case(
        A + "006",
        "nine-decimals-on-btc",
        broker({BROKER_ALPHA: {"BTC": "0.123456789"}, BROKER_BETA: {"BTC": "-0.123456789"}}),
        "decimals",
    ),
    Case(
        A + "007",
        "broker-not-net-zero",
        broker({BROKER_ALPHA: {"BTC": "1"}, BROKER_BETA: {"BTC": "-0.5"}}),
        "net",
    ),
    Case(A + "007", "broker-one-sided", broker({BROKER_ALPHA: {"USDT": "-10"}}), "ofcusdt"),
    Case(A + "008", "self-pair", signed({ALPHA: {ALPHA: {"BTC": "1"}}}), "itself"),
    Case(
        A + "008",
        "broker-self-pair",
        broker({BROKER_ALPHA: {BROKER_ALPHA: {"BTC": "1"}}}),
        "itself",
    ),
    # 422 the allocated balance (step 9)
    Case(
        "OES-BAL-001",
        "gamma-short-of-eth",
        signed({GAMMA: {"ETH": "-1000000000000000000"}}),
        GAMMA,
        extra={
            "connectionId": GAMMA,
            "currency": "ofceth",
            "required": "1000000000000000000",
            "available": "1000000000000000",
        },
    ),
    Case(
        "OES-BAL-001",
        "nested-source-pays",
        signed({BETA: {ALPHA: {"BTC": "300000000"}}}),
        BETA,
        extra={
            "connectionId": BETA,
            "currency": "ofcbtc",
            "required": "300035000",
            "available": "200000000",
        },
    ),
    # read routes
    Case(
        "OES-READ-001",
        "another-partners-settlement",
        get(
            f"/api/network/v1/enterprises/ent-broker/partners/settlements/{PAST_SETTLEMENT}",
            token="demo-broker-token",
        ),
        PAST_SETTLEMENT,
    ),
    Case(
        "OES-READ-001",
        "unknown-settlement",
        get(f"{SETTLEMENTS}/{UNKNOWN_CONNECTION}"),
        UNKNOWN_CONNECTION,
    ),
    Case(
        "OES-READ-002",
        "bad-created-filter",
        get(SETTLEMENTS, createdOnOrAfter="last tuesday"),
        "last tuesday",
    ),
    Case(
        "OES-READ-002",
        "bad-updated-filter",
        get(SETTLEMENTS, updatedBefore="2026-13-01"),
        "2026-13-01",
    ),
    Case(
        "OES-READ-002",
        "created-filter-out-of-range",
        get(SETTLEMENTS, createdOnOrAfter="9999-12-31T23:59:59-23:59"),
        "9999-12-31",
    ),
    Case(
        "OES-READ-002",
        "updated-filter-leap-second",
        get(SETTLEMENTS, updatedOnOrAfter="2026-06-30T23:59:60Z"),
        "23:59:60",
    ),
    Case(
        "OES-READ-002",
        "signing-amounts-not-json",
        get(SIGNING, externalId="x", nonce="n", settlementAmounts="{not json"),
        "settlementAmounts",
    ),
    Case("OES-READ-002", "settlement-id-not-uuid", get(f"{SETTLEMENTS}/not-a-uuid"), "not-a-uuid"),
    Case(
        "OES-READ-002",
        "signing-amounts-not-an-object",
        get(SIGNING, externalId="x", nonce="n", settlementAmounts="[1, 2]"),
        "JSON text of an object",
    ),
    Case(
        "OES-READ-002",
        "scalar-parameter-repeated",
        get(SETTLEMENTS, pageNumber=["abc", "0"]),
        "pageNumber is given 2 times",
    ),
    Case("OES-READ-002", "dispute-filter-not-uuid", get(DISPUTES, settlementIds="nope"), "nope"),
    # allocation updates of a partner with async allocations
    Case(
        "OES-ALC-001",
        "deallocation-id-on-allocations",
        allocation_update("allocation"),
        "no allocation",
    ),
    Case(
        "OES-ALC-002",
        "update-with-another-amount",
        allocation_update(amount={"currency": "BTC", "quantity": "2001"}),
        "amount.quantity",
    ),
    Case(
        "OES-ALC-003",
        "release-after-clear",
        allocation_update(record_status="cleared", status="released", rejectReason="no"),
        "cleared",
    ),
    Case(
        "OES-ALC-004",
        "status-changed-after-signing",
        allocation_update(
            after_signing=lambda body: body.update(status="released", rejectReason="x")
        ),
        "status",
    ),
    Case(
        "OES-ALC-005",
        "release-without-reason",
        allocation_update(status="released"),
        "rejectReason",
    ),
    # server
    Case("OES-SRV-001", "fault-after-commit", committed_then_fault(), "replay"),
    Case(
        "OES-SRV-002",
        "database-locked",
        database_locked(),
        "busy",
        settings={"busy_timeout_ms": 50},
    ),
    # A sandbox of their own (any setting makes one): these break the database they run on.
    Case("OES-SRV-003", "database-read-only", database_read_only(), "read-only", settings=FRESH),
    Case("OES-SRV-004", "database-deleted", database_deleted(), "deleted", settings=FRESH),
]
# Answered by the HTTP protocol before any application runs, so not in process:
# tests/reliability/test_headers_live.py breaks it against a real `oeskit serve`.
PROTOCOL_RULES = {"OES-REQ-008"}

CATALOGUE = {rule["id"]: int(rule["status"]) for rule in spec.rules_catalogue(spec.contract())}
COMMITS = {"OES-SRV-001"}  # the one rule whose request changes state: it fails after commit


def test_every_error_rule_of_the_catalogue_has_a_case() -> None:
    """Each catalogue rule with an error status is broken by at least one case of the table."""
    error_rules = {rule for rule, status in CATALOGUE.items() if status >= 400} - PROTOCOL_RULES
    assert error_rules - {case.rule for case in CASES} == set()
    assert {case.rule for case in CASES} - error_rules == set()


def test_case_ids_are_unique() -> None:
    """No two cases share an id, so every parametrized test is addressable."""
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))


# Faults of a SQLite file (made read-only, deleted): PostgreSQL's own storage faults, a lost
# connection and a server gone, are broken in tests/api/test_postgres_store.py.
FILE_RULES = {"OES-SRV-003", "OES-SRV-004"}


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_rule_is_enforced(
    case: Case, sb: Sandbox, make_sandbox: SandboxFactory, store_backend: StoreBackend
) -> None:
    """The request breaking the rule answers the catalogue's status with an {error, rule} body
    that says what is wrong, and leaves every business row as it was."""
    if case.rule in FILE_RULES and store_backend.kind != "sqlite":
        pytest.skip("a fault of the SQLite file; the PostgreSQL store has its own tests")
    if case.settings:
        async with make_sandbox(**case.settings) as custom:
            await _check(case, custom)
    else:
        await _check(case, sb)


async def _check(case: Case, sb: Sandbox) -> None:
    send = await case.prepare(sb)
    before = sb.snapshot()
    response = await send()
    after = sb.snapshot()
    assert response.status_code == CATALOGUE[case.rule], response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["rule"] == case.rule, body
    assert isinstance(body["error"], str) and len(body["error"]) >= 10, body
    assert case.mentions.lower() in body["error"].lower(), body
    assert set(body) == {"error", "rule", *case.extra}, body
    for name, value in case.extra.items():
        assert body[name] == value or (value is ANY and body[name]), body
    if case.rule not in COMMITS:
        assert after == before, "a refused request changed the sandbox's state"


async def test_missing_token_is_challenged(sb: Sandbox) -> None:
    """A 401 for a missing token says how to authenticate (WWW-Authenticate: Bearer)."""
    response = await sb.client.post(EXCHANGE_STAGE, json={})
    assert response.status_code == 401
    assert response.json()["rule"] == "OES-AUTH-001"
    assert response.headers["www-authenticate"] == "Bearer"


async def test_token_is_checked_before_the_body(sb: Sandbox) -> None:
    """An unknown token with an invalid body is a 401, not a 400: security runs first."""
    response = await sb.client.post(
        EXCHANGE_STAGE,
        content=b"{not json",
        headers={"Authorization": "Bearer nope", "Content-Type": "application/json"},
    )
    assert (response.status_code, response.json()["rule"]) == (401, "OES-AUTH-001")


async def test_signature_is_checked_before_idempotency(sb: Sandbox) -> None:
    """Replaying a staged externalId with a bad signature is a 401, so no one can probe ids."""
    fields = sb.fields({ALPHA: {"BTC": "-1000"}})
    assert (await sb.stage(sb.sign(fields))).status_code == 200
    forged = signing.sign_body(fields, signing.generate("ed25519"))
    response = await sb.stage(forged)
    assert (response.status_code, response.json()["rule"]) == (401, "OES-SIG-004")


async def test_fault_after_commit_keeps_the_settlement_and_replay_returns_it(sb: Sandbox) -> None:
    """A 500 after commit leaves the settlement staged; the identical request then answers 200
    with that settlement, and creates nothing more."""
    fields = sb.fields({ALPHA: {"BTC": "-1000"}})
    armed = await sb.admin(
        "POST",
        "/faults",
        json={"kind": "fail_after_commit", "externalId": fields["externalId"], "count": 1},
    )
    assert armed.status_code == 200, armed.text
    body = sb.sign(fields)
    failed = await sb.stage(body)
    assert failed.status_code == 500
    assert failed.json()["rule"] == "OES-SRV-001"
    listed = await sb.get(SETTLEMENTS, externalIds=fields["externalId"])
    stored = listed.json()["settlements"]
    assert [s["externalId"] for s in stored] == [fields["externalId"]]
    before = sb.snapshot()
    replay = await sb.stage(body)
    assert replay.status_code == 200, replay.text
    assert replay.json()["settlement"]["id"] == stored[0]["id"]
    assert sb.snapshot() == before


async def test_busy_database_answers_retry_after(make_sandbox: SandboxFactory) -> None:
    """While another writer holds the database past the busy timeout, staging answers 503 with
    a Retry-After header, and the same request succeeds once the lock is gone."""
    async with make_sandbox(busy_timeout_ms=50) as sb:
        body = sb.sign(sb.fields({ALPHA: {"BTC": "-1000"}}))
        response = await database_locked_send(sb, body)
        assert (response.status_code, response.json()["rule"]) == (503, "OES-SRV-002")
        assert int(response.headers["retry-after"]) >= 1
        retried = await sb.stage(body)
        assert retried.status_code == 200, retried.text


async def database_locked_send(sb: Sandbox, body: dict[str, Any]) -> httpx.Response:
    """Stage `body` while a second connection holds the database's write lock."""
    with write_lock_held(sb.store):
        return await sb.stage(body)
