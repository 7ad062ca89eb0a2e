"""The HTTP client the sandbox calls a partner's hosted endpoints with, as BitGo.

Every attempt carries a fresh `X-BitGo-Signature` (RS256: `iat` now, `exp` 60 s later, a new
`jti`, and the method/path/bodySha256 binding), times out after the configured seconds, and is
reported to `record` (the partner-calls log; the token itself is never kept). A 5xx, a
timeout or a refused connection is retried with the same body after a short backoff; a
redirect is never followed (it counts as a refusal, like a 4xx).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import orjson

from oeskit.clock import format_instant, utcnow
from oeskit.domain.allocation_flow import BACKOFF_S, MAX_ATTEMPTS
from oeskit.domain.hosted_ports import PartnerCall

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

ANSWERED = "answered"  # a 2xx
TRANSIENT = "transient"  # a 5xx, a timeout, a refused or broken connection: worth a retry
REFUSED = "refused"  # a 4xx or a redirect: the partner said no
BODY_KEPT = 4096  # characters of an answer kept in the log and in errors


@dataclass(frozen=True, slots=True)
class CallResult:
    """How the last attempt of a call ended."""

    outcome: str
    status: int | None
    body: str
    error: str | None
    attempts: int
    jtis: tuple[str, ...]

    def json(self) -> Any:
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError:
            return None

    def describe(self) -> str:
        """The end of the call in words, for a record's reason or an error."""
        if self.status is None:
            return f"no answer after {self.attempts} attempt(s): {self.error}"
        return f"HTTP {self.status} after {self.attempts} attempt(s): {self.body[:500]}"


class PartnerClient:
    """Calls one partner endpoint at a time; holds no connection between calls."""

    def __init__(
        self,
        timeout_s: float,
        *,
        attempts: int = MAX_ATTEMPTS,
        backoff_s: Sequence[float] = BACKOFF_S,
    ) -> None:
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.backoff_s = tuple(backoff_s)

    async def call(
        self,
        *,
        key: rsa.RSAPrivateKey,
        base_url: str,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        partner_id: str,
        subject_id: str,
        record: Callable[[PartnerCall], None],
    ) -> CallResult:
        from oeskit.signing import bitgo_jwt  # with cryptography: on the first call only

        url = base_url.rstrip("/") + path
        split = urlsplit(url)
        signed_path = split.path + (f"?{split.query}" if split.query else "")
        content = orjson.dumps(body) if body is not None else b""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        result: CallResult | None = None
        jtis: list[str] = []
        # trust_env off: proxies and certificates come from no environment variable (only
        # settings.py reads the environment), and a partner on loopback is never proxied.
        async with httpx.AsyncClient(
            timeout=self.timeout_s, follow_redirects=False, trust_env=False
        ) as http:
            for attempt in range(1, self.attempts + 1):
                if attempt > 1:
                    await asyncio.sleep(self.backoff_s[min(attempt - 2, len(self.backoff_s) - 1)])
                jti = str(uuid.uuid4())  # fresh for every attempt, retries included
                token = bitgo_jwt.sign(
                    key,
                    now=int(time.time()),
                    method=method,
                    path=signed_path,
                    body=content,
                    jti=jti,
                )
                jtis.append(jti)
                started = time.perf_counter()
                result = await _attempt(
                    http, method, url, content, {**headers, bitgo_jwt.HEADER: token}
                )
                result = CallResult(
                    result.outcome, result.status, result.body, result.error, attempt, tuple(jtis)
                )
                record(
                    PartnerCall(
                        at=format_instant(utcnow()),
                        partner_id=partner_id,
                        subject_id=subject_id,
                        method=method,
                        url=url,
                        path=signed_path,
                        attempt=attempt,
                        status=result.status,
                        outcome=result.outcome,
                        error=result.error,
                        jti=jti,
                        duration_ms=round((time.perf_counter() - started) * 1000, 3),
                        request_body=content.decode() if content else None,
                        response_body=result.body or None,
                    )
                )
                if result.outcome != TRANSIENT:
                    break
        assert result is not None
        return result


async def _attempt(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    content: bytes,
    headers: dict[str, str],
) -> CallResult:
    try:
        answer = await http.request(method, url, content=content, headers=headers)
    except httpx.TimeoutException as exc:
        return CallResult(TRANSIENT, None, "", f"timed out ({type(exc).__name__})", 0, ())
    except httpx.UnsupportedProtocol as exc:
        return CallResult(REFUSED, None, "", f"the URL cannot be called: {exc}", 0, ())
    except httpx.TransportError as exc:
        error = f"connection failed: {exc or type(exc).__name__}"
        return CallResult(TRANSIENT, None, "", error, 0, ())
    except (httpx.InvalidURL, ValueError, UnicodeError) as exc:  # a base URL httpx refuses
        return CallResult(REFUSED, None, "", f"the URL cannot be called: {exc}", 0, ())
    except Exception as exc:
        # A transport error httpx left unmapped (its map is keyed by httpcore's classes, which a
        # re-imported httpcore no longer matches): no answer came, so it is worth a retry.
        kind = "timed out" if "Timeout" in type(exc).__name__ else "connection failed"
        return CallResult(TRANSIENT, None, "", f"{kind} ({type(exc).__name__})", 0, ())
    text = answer.text[:BODY_KEPT]
    if answer.status_code >= 500:
        return CallResult(TRANSIENT, answer.status_code, text, None, 0, ())
    if answer.is_redirect:
        location = answer.headers.get("location", "")
        error = f"redirect to {location!r} not followed"
        return CallResult(REFUSED, answer.status_code, text, error, 0, ())
    if answer.status_code >= 300:
        return CallResult(REFUSED, answer.status_code, text, None, 0, ())
    return CallResult(ANSWERED, answer.status_code, text, None, 0, ())
