"""BitGo's side of the partner-hosted API: every call signed with BitGo's RSA key as an
X-BitGo-Signature JWT, the forged tokens a partner must refuse, and each answer recorded
(redacted) with what partner-hosted.yaml says about it. HTTP only."""

from __future__ import annotations

import base64
import enum
import functools
import hashlib
import hmac
import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from oeskit.conformance.target import Target
from oeskit.hostedtest import contract
from oeskit.reports.model import Exchange
from oeskit.signing import bitgo_jwt


class Forgery(enum.Enum):
    """The tokens a partner must answer with 401, each for one reason."""

    MISSING = "no X-BitGo-Signature header"
    WRONG_KEY = "an RS256 token signed with a key that is not BitGo's"
    HS256 = "an HS256 token keyed with BitGo's public key PEM (algorithm confusion)"
    HS256_TRIMMED = "an HS256 token keyed with BitGo's public key PEM without its last newline"
    EXPIRED = "a token whose exp passed 2 minutes ago"
    FUTURE = "a token issued 5 minutes in the future"
    LONG_LIVED = "a token whose exp is 10 minutes after its iat"


@dataclass(frozen=True, slots=True)
class Answer:
    """One call: the status (None when the partner did not answer), the JSON body (None when
    there is none), the redacted exchange, and the contract's problems with the response."""

    status: int | None
    data: Any
    exchange: Exchange
    problems: tuple[str, ...]
    operation: str | None

    def get(self, name: str) -> Any:
        return self.data.get(name) if isinstance(self.data, dict) else None


class BitGo:
    """Calls a partner's base URL as BitGo does. Thread-safe: racing calls share it."""

    def __init__(self, target: Target, private_pem: str) -> None:
        self.target = target
        self._key = load_key(private_pem)
        self.pair = bitgo_jwt.RsaKeyPair(private_pem, _public_pem(self._key))
        self._lock = threading.Lock()
        self.answers: list[Answer] = []

    # ---- tokens ---------------------------------------------------------------------------

    def token(
        self,
        method: str,
        path: str,
        body: bytes,
        *,
        issued: int | None = None,
        lifetime: int = bitgo_jwt.MAX_LIFETIME_SECONDS,
        key: rsa.RSAPrivateKey | None = None,
    ) -> str:
        """A token for this request, as BitGo signs it (path as sent, base path included)."""
        return bitgo_jwt.sign(
            key or self._key,
            now=int(time.time()) if issued is None else issued,
            method=method,
            path=self.target.base_path + path,
            body=body,
            lifetime=lifetime,
        )

    def forge(self, forgery: Forgery, method: str, path: str, body: bytes) -> str | None:
        now = int(time.time())
        if forgery is Forgery.MISSING:
            return None
        if forgery is Forgery.WRONG_KEY:
            return self.token(method, path, body, key=self._stranger_key())
        if forgery is Forgery.EXPIRED:
            return self.token(method, path, body, issued=now - 150, lifetime=30)
        if forgery is Forgery.FUTURE:
            return self.token(method, path, body, issued=now + 300, lifetime=30)
        if forgery is Forgery.LONG_LIVED:
            return self.token(method, path, body, lifetime=600)
        secret = self.pair.public_pem
        if forgery is Forgery.HS256_TRIMMED:
            secret = secret.rstrip("\n")
        return _hs256(secret.encode(), self._claims(method, path, body, now))

    def _claims(self, method: str, path: str, body: bytes, now: int) -> dict[str, Any]:
        return {
            "iat": now,
            "exp": now + bitgo_jwt.MAX_LIFETIME_SECONDS,
            "jti": str(uuid.uuid4()),
            "method": method.upper(),
            "path": self.target.base_path + path,
            "bodySha256": bitgo_jwt.body_sha256(body),
        }

    def _stranger_key(self) -> rsa.RSAPrivateKey:
        with self._lock:
            return _stranger()

    # ---- calls ------------------------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        step: str,
        token: str | None = None,
        forgery: Forgery | None = None,
        signed_as: tuple[str, str, bytes] | None = None,
    ) -> Answer:
        """Send one request. Signed for itself unless `token` is given, `forgery` asks for a
        token the partner must refuse, or `signed_as` names the (method, path, body) the token
        is bound to instead."""
        content = encode(body)
        if token is None:
            if forgery is not None:
                token = self.forge(forgery, method, path, content)
            else:
                bound = signed_as or (method, path, content)
                token = self.token(*bound)
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if token is not None:
            headers[bitgo_jwt.HEADER] = token
        response, exchange = self.target.send(
            method, path, headers=headers, content=content or None, step=step
        )
        return self._answer(method, response, exchange)

    def race(self, method: str, path: str, body: Any, *, copies: int, step: str) -> list[Answer]:
        """`copies` identical requests (each with its own token) released at the same instant."""
        content = encode(body)
        tokens = [self.token(method, path, content) for _ in range(copies)]
        start = threading.Barrier(copies)

        def one(index: int) -> Answer:
            start.wait(timeout=10)
            return self.call(method, path, body, step=f"{step} #{index + 1}", token=tokens[index])

        with ThreadPoolExecutor(max_workers=copies) as pool:
            return list(pool.map(one, range(copies)))

    def _answer(self, method: str, response: httpx.Response | None, exchange: Exchange) -> Answer:
        if response is None:
            answer = Answer(None, None, exchange, (), None)
        else:
            path = self.target.route_path(response.url)
            try:
                data = response.json() if response.content else None
            except ValueError:
                data = None
            op = contract.operation(method, path)
            problems = contract.check_response(
                method, path, response.status_code, response.content, response.headers
            )
            answer = Answer(
                response.status_code, data, exchange, tuple(problems), op.id if op else None
            )
        with self._lock:
            self.answers.append(answer)
        return answer


@functools.lru_cache(maxsize=4)
def load_key(private_pem: str) -> rsa.RSAPrivateKey:
    """BitGo's RSA private key from its PEM; `bitgo_jwt.InvalidKeyPem` for anything else.
    Parsed once per process: parsing (with its key checks) costs ~40 ms, a signature 0.4 ms."""
    try:
        key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise bitgo_jwt.InvalidKeyPem(f"not a PEM private key: {exc}") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise bitgo_jwt.InvalidKeyPem("the private key is not an RSA key (RS256 needs RSA)")
    return key


@functools.lru_cache(maxsize=1)
def _stranger() -> rsa.RSAPrivateKey:
    """A key that is not BitGo's (made once per process: generating one takes ~50-300 ms)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bitgo_jwt.RSA_BITS)


def _public_pem(key: rsa.RSAPrivateKey) -> str:
    """The SubjectPublicKeyInfo PEM of `key`, as bitgo_jwt.RsaKeyPair holds it."""
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def encode(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    return json.dumps(body, separators=(",", ":")).encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hs256(secret: bytes, claims: dict[str, Any]) -> str:
    # PyJWT refuses a PEM as an HMAC secret, which is the point of the attack: build it by hand.
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    signing_input = f"{head}.{_b64(json.dumps(claims).encode())}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"
