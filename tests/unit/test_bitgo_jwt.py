"""The X-BitGo-Signature JWT: what oeskit signs, and every token a receiver must refuse."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from oeskit.signing import bitgo_jwt

NOW = 1_800_000_000


@pytest.fixture(scope="module")
def pair() -> bitgo_jwt.RsaKeyPair:
    return bitgo_jwt.generate_key_pair()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_round_trip_carries_short_lived_claims_and_binding(pair: bitgo_jwt.RsaKeyPair) -> None:
    """A signed token verifies and holds iat, exp = iat + 60, a jti and the request binding."""
    token = bitgo_jwt.sign(pair.private_pem, now=NOW, method="post", path="/bitgo/v1/x", body=b"{}")
    claims = bitgo_jwt.verify(
        pair.public_pem, token, now=NOW, method="POST", path="/bitgo/v1/x", body=b"{}"
    )
    assert claims["iat"] == NOW and claims["exp"] == NOW + 60
    assert claims["method"] == "POST" and claims["path"] == "/bitgo/v1/x"
    assert claims["bodySha256"] == _b64(hashlib.sha256(b"{}").digest())
    assert len(claims["jti"]) == 36


def test_each_token_has_a_fresh_jti(pair: bitgo_jwt.RsaKeyPair) -> None:
    """Two tokens signed in the same second carry different jti values."""
    one, two = (
        bitgo_jwt.verify(
            pair.public_pem,
            bitgo_jwt.sign(pair.private_pem, now=NOW, method="GET", path="/"),
            now=NOW,
        )["jti"]
        for _ in range(2)
    )
    assert one != two


def _hs256_with_public_key(public_pem: str) -> str:
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps({"iat": NOW, "exp": NOW + 30, "jti": "x"}).encode())
    mac = hmac.new(public_pem.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64(mac)}"


@pytest.mark.parametrize(
    ("case", "reason", "kind"),
    [
        ("missing", "header is missing", bitgo_jwt.MISSING),
        ("hs256-confusion", "only RS256", bitgo_jwt.INVALID),
        ("other-key", "does not verify", bitgo_jwt.INVALID),
        ("expired", "expired", bitgo_jwt.EXPIRED),
        ("too-long", "at most 60 s", bitgo_jwt.TOO_LONG),
        ("future", "in the future", bitgo_jwt.EXPIRED),
        ("body-changed", "bodySha256", bitgo_jwt.UNBOUND),
        ("not-a-jwt", "not a JWT", bitgo_jwt.INVALID),
    ],
)
def test_refused_tokens_say_why(
    pair: bitgo_jwt.RsaKeyPair, case: str, reason: str, kind: str
) -> None:
    """Each kind of bad token is refused with a reason naming what is wrong, and its kind."""
    sign = bitgo_jwt.sign
    tokens = {
        "missing": None,
        "hs256-confusion": _hs256_with_public_key(pair.public_pem),
        "other-key": sign(
            bitgo_jwt.generate_key_pair().private_pem, now=NOW, method="GET", path="/"
        ),
        "expired": sign(pair.private_pem, now=NOW - 120, method="GET", path="/"),
        "too-long": sign(pair.private_pem, now=NOW, method="GET", path="/", lifetime=3600),
        "future": sign(pair.private_pem, now=NOW + 600, method="GET", path="/"),
        "body-changed": sign(pair.private_pem, now=NOW, method="GET", path="/", body=b"a"),
        "not-a-jwt": "abc",
    }
    with pytest.raises(bitgo_jwt.TokenRejected, match=reason) as refused:
        bitgo_jwt.verify(pair.public_pem, tokens[case], now=NOW, body=b"b")
    assert refused.value.kind == kind


def test_private_pem_round_trips_and_refuses_non_rsa() -> None:
    """A stored private key gives back the same public key; garbage is refused by name."""
    pair = bitgo_jwt.generate_key_pair()
    assert bitgo_jwt.key_pair_from_private_pem(pair.private_pem) == pair
    with pytest.raises(bitgo_jwt.InvalidKeyPem, match="not a PEM private key"):
        bitgo_jwt.key_pair_from_private_pem("nope")
