"""The `X-BitGo-Signature` JWT that BitGo sends to a partner's hosted endpoints (RS256).

Builds and checks the token only: RSA key generation and PEM handling, the claims oeskit puts
in (`iat`, `exp`, `jti`, and the binding of method, path and body), and the checks a partner
makes on receipt. Remembering which `jti` values were seen is the receiver's job; this module
has no state, no I/O and reads no clock (`now` is passed in).
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

HEADER: Final = "X-BitGo-Signature"
ALGORITHM: Final = "RS256"
#: BitGo recommends an expiry of at most one minute; a longer-lived token is refused.
MAX_LIFETIME_SECONDS: Final = 60
RSA_BITS: Final = 2048
#: The claims that bind a token to one request (oeskit's decision: BitGo does not publish what
#: it signs, so a receiver checks them only when it declares the capability).
BINDING_CLAIMS: Final = ("method", "path", "bodySha256")


# What is wrong with a refused token (`TokenRejected.kind`), so a receiver can name its rule.
MISSING: Final = "missing"  # no token at all
INVALID: Final = "invalid"  # not an RS256 JWT by the key, or a required claim is missing
EXPIRED: Final = "expired"  # exp passed, or iat in the future
TOO_LONG: Final = "lifetime"  # exp more than MAX_LIFETIME_SECONDS after iat
UNBOUND: Final = "binding"  # a binding claim does not match the request


class TokenRejected(ValueError):
    """The token must not be trusted; `reason` says why in words a partner can act on, `kind`
    which check refused it (one of MISSING, INVALID, EXPIRED, TOO_LONG, UNBOUND)."""

    def __init__(self, reason: str, kind: str = INVALID) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


@dataclass(frozen=True, slots=True)
class RsaKeyPair:
    """An RSA key pair as PEM text: PKCS#8 private key, SubjectPublicKeyInfo public key."""

    private_pem: str
    public_pem: str


def generate_key_pair(bits: int = RSA_BITS) -> RsaKeyPair:
    """A fresh RSA key pair (2048 bits unless told otherwise), as PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return RsaKeyPair(private_pem=_private_pem(key), public_pem=_public_pem(key.public_key()))


def key_pair_from_private_pem(private_pem: str) -> RsaKeyPair:
    """The pair for an existing private key; `InvalidKeyPem` unless it is an RSA private key."""
    try:
        key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise InvalidKeyPem(f"not a PEM private key: {exc}") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise InvalidKeyPem("the private key is not an RSA key (RS256 needs RSA)")
    return RsaKeyPair(private_pem=_private_pem(key), public_pem=_public_pem(key.public_key()))


def load_public_pem(public_pem: str) -> rsa.RSAPublicKey:
    """The RSA public key in `public_pem`; `InvalidKeyPem` for anything else."""
    try:
        key = serialization.load_pem_public_key(public_pem.encode())
    except (ValueError, TypeError) as exc:
        raise InvalidKeyPem(f"not a PEM public key: {exc}") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise InvalidKeyPem("the public key is not an RSA key (RS256 needs RSA)")
    return key


class InvalidKeyPem(ValueError):
    """A PEM text is not the RSA key it should be."""


def body_sha256(body: bytes) -> str:
    """The `bodySha256` claim: base64url (no padding) of SHA-256 over the exact body bytes."""
    digest = hashlib.sha256(body).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign(
    private_pem: str | rsa.RSAPrivateKey,
    *,
    now: int,
    method: str,
    path: str,
    body: bytes = b"",
    lifetime: int = MAX_LIFETIME_SECONDS,
    jti: str | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """A signed token for one request: `iat` = now, `exp` = now + lifetime, a fresh `jti`.

    `path` is the request path as sent (with its query string, if any); `method` is upper-cased.
    `extra` claims are added last (tests use it to forge tokens a receiver must refuse).
    A loaded key may stand for the PEM: parsing a PEM private key costs far more than signing,
    so a caller that signs many tokens loads it once.
    """
    claims: dict[str, Any] = {
        "iat": now,
        "exp": now + lifetime,
        "jti": jti or str(uuid.uuid4()),
        "method": method.upper(),
        "path": path,
        "bodySha256": body_sha256(body),
    }
    claims.update(extra or {})
    return jwt.encode(claims, private_pem, algorithm=ALGORITHM)


def verify(
    public_pem: str,
    token: str | None,
    *,
    now: int,
    leeway: int = 5,
    method: str | None = None,
    path: str | None = None,
    body: bytes | None = None,
) -> dict[str, Any]:
    """The token's claims if it is an RS256 JWT by `public_pem`, current, and short-lived.

    Refuses (with `TokenRejected`): no token; any algorithm but RS256 (an HS256 token keyed
    with the public key included); a bad signature; `iat`, `exp` or `jti` missing; `exp` passed
    (give or take `leeway` seconds) or more than 60 s after `iat`; `iat` in the future. When
    `method`, `path` or `body` are given, the binding claims must match them too. Whether the
    `jti` was seen before is for the caller to check.
    """
    if not token:
        raise TokenRejected(f"the {HEADER} header is missing", MISSING)
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as exc:
        raise TokenRejected(f"{HEADER} is not a JWT: {exc}") from exc
    if header.get("alg") != ALGORITHM:
        raise TokenRejected(
            f"the token is signed with {header.get('alg')!r}; only RS256 is accepted"
        )
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            load_public_pem(public_pem),
            algorithms=[ALGORITHM],
            options={"require": ["iat", "exp", "jti"], "verify_exp": False, "verify_iat": False},
        )
    except jwt.InvalidSignatureError as exc:
        raise TokenRejected("the token's signature does not verify with BitGo's key") from exc
    except jwt.InvalidTokenError as exc:
        raise TokenRejected(f"the token is not acceptable: {exc}") from exc
    iat, exp = claims["iat"], claims["exp"]
    if not isinstance(iat, int) or not isinstance(exp, int):
        raise TokenRejected("iat and exp must be integer seconds")
    if exp + leeway < now:
        raise TokenRejected(f"the token expired {now - exp} s ago", EXPIRED)
    if iat - leeway > now:
        raise TokenRejected("the token was issued in the future (iat after now)", EXPIRED)
    if exp - iat > MAX_LIFETIME_SECONDS:
        raise TokenRejected(
            f"the token lives {exp - iat} s; at most {MAX_LIFETIME_SECONDS} s after iat is "
            "accepted",
            TOO_LONG,
        )
    _check_binding(claims, method=method, path=path, body=body)
    return claims


def _check_binding(
    claims: dict[str, Any], *, method: str | None, path: str | None, body: bytes | None
) -> None:
    expected = {
        "method": method.upper() if method is not None else None,
        "path": path,
        "bodySha256": body_sha256(body) if body is not None else None,
    }
    for claim, want in expected.items():
        if want is not None and claims.get(claim) != want:
            raise TokenRejected(f"the token's {claim} claim does not match this request", UNBOUND)


def _private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _public_pem(key: rsa.RSAPublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
