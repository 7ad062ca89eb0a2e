"""The reference partner refuses every bad X-BitGo-Signature with 401 and the rule it breaks,
before it reads the body, and changes nothing; a good token is usable once."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from oeskit.hosted.app import PartnerConfig, create_app
from oeskit.signing import bitgo_jwt
from tests.hosted.conftest import PARTNER_ID, Bitgo, make_store

pytestmark = pytest.mark.anyio

ROUTES = [
    ("POST", "/bitgo/v1/connections"),
    ("POST", "/bitgo/v1/allocations"),
    ("POST", "/bitgo/v1/deallocations"),
    ("PUT", "/bitgo/v1/allocation/0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f/clear"),
    ("PUT", "/bitgo/v1/allocation/0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f/release"),
    ("PUT", "/bitgo/v1/deallocation/8e7f6a5b-4c3d-4e2f-9a1b-0c9d8e7f6a5b/clear"),
    ("PUT", "/bitgo/v1/deallocation/8e7f6a5b-4c3d-4e2f-9a1b-0c9d8e7f6a5b/release"),
]
ROUTE_IDS = [
    f"{m} {p.split('/')[3]}{'-' + p.rsplit('/', 1)[1] if m == 'PUT' else ''}" for m, p in ROUTES
]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_with_public_key(public_pem: str, claims: dict[str, Any]) -> str:
    """The algorithm-confusion forgery: HS256 keyed with the RSA public key's PEM text."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps(claims).encode())
    mac = hmac.new(public_pem.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64(mac)}"


def unsigned_token(claims: dict[str, Any]) -> str:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(claims).encode())}."


def claims_for(method: str, path: str, body: bytes, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iat": now,
        "exp": now + 30,
        "jti": str(uuid.uuid4()),
        "method": method,
        "path": path,
        "bodySha256": bitgo_jwt.body_sha256(body),
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


async def allocation_body(bitgo: Bitgo) -> dict[str, Any]:
    return bitgo.reservation("allocation", await bitgo.connect(), 100)


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=ROUTE_IDS)
async def test_missing_header_is_refused_on_every_route(
    bitgo: Bitgo, method: str, path: str
) -> None:
    """No X-BitGo-Signature: 401 PH-SIG-001, on each of the seven routes."""
    response = await bitgo.call(method, path, {} if method == "POST" else None, unsigned=True)
    assert response.status_code == 401
    assert response.json() == {
        "error": "the X-BitGo-Signature header is missing",
        "rule": "PH-SIG-001",
    }


@pytest.mark.parametrize(
    "case",
    [
        "hs256-public-key",
        "alg-none",
        "other-rsa-key",
        "not-a-jwt",
        "no-jti",
        "no-exp",
        "bearer-prefix",
    ],
)
async def test_a_token_not_rs256_by_bitgos_key_is_refused(
    bitgo: Bitgo, bitgo_keys: bitgo_jwt.RsaKeyPair, case: str
) -> None:
    """Another algorithm (the HS256 forgery keyed with the public key included), another key,
    garbage, a missing required claim, or a `Bearer ` prefix: 401 PH-SIG-002; nothing stored."""
    body = await allocation_body(bitgo)
    path, raw = "/bitgo/v1/allocations", json.dumps(body).encode()
    good = claims_for("POST", path, raw)
    other = bitgo_jwt.generate_key_pair().private_pem
    tokens = {
        "hs256-public-key": hs256_with_public_key(bitgo_keys.public_pem, good),
        "alg-none": unsigned_token(good),
        "other-rsa-key": jwt.encode(good, other, algorithm="RS256"),
        "not-a-jwt": "not-a-token",
        "no-jti": jwt.encode(claims_for("POST", path, raw, jti=None), bitgo.private_pem, "RS256"),
        "no-exp": jwt.encode(claims_for("POST", path, raw, exp=None), bitgo.private_pem, "RS256"),
        "bearer-prefix": "Bearer " + jwt.encode(good, bitgo.private_pem, algorithm="RS256"),
    }
    response = await bitgo.call("POST", path, raw, token=tokens[case])
    assert response.status_code == 401
    assert response.json()["rule"] == "PH-SIG-002"
    # Nothing was reserved: clearing that id finds no allocation.
    cleared = await bitgo.put("allocation", body["allocationId"], "clear")
    assert (cleared.status_code, cleared.json()["rule"]) == (404, "PH-PUT-001")


async def test_hs256_forgery_names_the_algorithm(
    bitgo: Bitgo, bitgo_keys: bitgo_jwt.RsaKeyPair
) -> None:
    """The algorithm-confusion forgery's refusal says only RS256 is accepted."""
    path = "/bitgo/v1/allocation/0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f/clear"
    token = hs256_with_public_key(bitgo_keys.public_pem, claims_for("PUT", path, b""))
    response = await bitgo.call("PUT", path, token=token)
    assert response.status_code == 401
    assert response.json() == {
        "error": "the token is signed with 'HS256'; only RS256 is accepted",
        "rule": "PH-SIG-002",
    }


@pytest.mark.parametrize(
    ("shift", "lifetime"),
    [(-120, 60), (-70, 60), (600, 60)],
    ids=["expired-2min", "expired-10s", "issued-in-future"],
)
async def test_an_expired_or_future_token_is_refused(
    bitgo: Bitgo, shift: int, lifetime: int
) -> None:
    """exp passed (beyond 5 s of skew), or iat in the future: 401 PH-SIG-003."""
    body = await allocation_body(bitgo)
    path, raw = "/bitgo/v1/allocations", json.dumps(body).encode()
    token = bitgo_jwt.sign(
        bitgo.private_pem,
        now=int(time.time()) + shift,
        method="POST",
        path=path,
        body=raw,
        lifetime=lifetime,
    )
    response = await bitgo.call("POST", path, raw, token=token)
    assert response.status_code == 401
    assert response.json()["rule"] == "PH-SIG-003"


async def test_a_token_living_longer_than_60_s_is_refused(bitgo: Bitgo) -> None:
    """exp - iat = 61 s: 401 PH-SIG-004, though the token is current and signed by BitGo."""
    body = await allocation_body(bitgo)
    response = await bitgo.call("POST", "/bitgo/v1/allocations", body, lifetime=61)
    assert response.status_code == 401
    assert response.json()["rule"] == "PH-SIG-004"
    assert "lives 61 s" in response.json()["error"]


async def test_a_60_s_token_is_accepted(bitgo: Bitgo) -> None:
    """The longest lifetime allowed, exactly 60 s, is fine."""
    body = await allocation_body(bitgo)
    response = await bitgo.call("POST", "/bitgo/v1/allocations", body, lifetime=60)
    assert (response.status_code, response.json()["status"]) == (200, "reserved")


async def test_a_replayed_jti_is_refused(bitgo: Bitgo) -> None:
    """The same token twice: the first is served, the second is 401 PH-SIG-005 (even for the
    same request, which would otherwise be an idempotent retry)."""
    body = await allocation_body(bitgo)
    raw = json.dumps(body).encode()
    token = bitgo.token("POST", "/bitgo/v1/allocations", raw)
    first = await bitgo.call("POST", "/bitgo/v1/allocations", raw, token=token)
    second = await bitgo.call("POST", "/bitgo/v1/allocations", raw, token=token)
    assert first.status_code == 200
    assert second.status_code == 401
    assert second.json()["rule"] == "PH-SIG-005"
    assert "was seen before" in second.json()["error"]


async def test_a_jti_reused_by_another_fresh_token_is_refused(bitgo: Bitgo) -> None:
    """A new token (new iat, other request) carrying a jti already seen: 401 PH-SIG-005."""
    first_body, second_body = await allocation_body(bitgo), await allocation_body(bitgo)
    jti = str(uuid.uuid4())
    assert (
        await bitgo.call("POST", "/bitgo/v1/allocations", first_body, jti=jti)
    ).status_code == 200
    response = await bitgo.call("POST", "/bitgo/v1/allocations", second_body, jti=jti)
    assert (response.status_code, response.json()["rule"]) == (401, "PH-SIG-005")


@pytest.mark.parametrize("claim", ["method", "path", "bodySha256"])
async def test_a_token_made_for_another_request_is_refused(bitgo: Bitgo, claim: str) -> None:
    """A binding claim that does not match the request: 401 PH-SIG-006 naming the claim."""
    body = await allocation_body(bitgo)
    path, raw = "/bitgo/v1/allocations", json.dumps(body).encode()
    sent = {"method": "POST", "path": path, "body": raw}
    signed = dict(sent)
    signed[{"method": "method", "path": "path", "bodySha256": "body"}[claim]] = {
        "method": "PUT",
        "path": "/bitgo/v1/deallocations",
        "bodySha256": raw.replace(b"100", b"999"),
    }[claim]
    token = bitgo_jwt.sign(bitgo.private_pem, now=int(time.time()), **signed)
    response = await bitgo.call("POST", path, raw, token=token)
    assert response.status_code == 401
    assert response.json() == {
        "error": f"the token's {claim} claim does not match this request",
        "rule": "PH-SIG-006",
    }


async def test_without_body_binding_the_claims_are_not_checked(
    tmp_path: Path, bitgo_keys: bitgo_jwt.RsaKeyPair
) -> None:
    """A partner started with body binding off accepts a token made for another body."""
    store, accounts = make_store(tmp_path / "partner.db")
    config = PartnerConfig(PARTNER_ID, bitgo_keys.public_pem, body_binding=False)
    transport = httpx.ASGITransport(app=create_app(config, store))
    async with httpx.AsyncClient(transport=transport, base_url="http://partner.test") as client:
        bitgo = Bitgo(client, bitgo_keys.private_pem, store, accounts)
        request = bitgo.connection_request()
        token = bitgo.token("POST", "/somewhere/else", b"{}")
        response = await bitgo.call("POST", "/bitgo/v1/connections", request, token=token)
    assert response.status_code == 200


def test_a_jti_is_forgotten_only_after_it_expires(tmp_path: Path) -> None:
    """The store keeps a jti until its expiry; after that it may come back (the token itself
    is refused as expired by then)."""
    store, _ = make_store(tmp_path / "partner.db")
    assert store.remember_jti("j-1", expires=1_000, now=900)
    assert not store.remember_jti("j-1", expires=1_000, now=999)
    assert store.remember_jti("j-1", expires=2_000, now=1_001)


def test_a_bad_public_key_fails_at_start(tmp_path: Path) -> None:
    """create_app refuses a public key that is not RSA PEM (not on the first request)."""
    store, _ = make_store(tmp_path / "partner.db")
    with pytest.raises(bitgo_jwt.InvalidKeyPem):
        create_app(PartnerConfig(PARTNER_ID, "nope"), store)
