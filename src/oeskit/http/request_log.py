"""What the request log keeps about one request and how the control plane shows it.

While a request runs, the layers write into its note (the Guard's `seen` dict, reachable through
`NOTE`): the fault applied, the Retry-After sent. The Guard turns the note into one buffered row
(`entry`). Everything a grader derives from the body (externalId, signature verdict, properties
fingerprint) is computed when the log is read (`present`), never on the hot path.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import timedelta
from typing import Any

import orjson

from oeskit.clock import format_instant, parse_instant
from oeskit.domain import rules
from oeskit.http.errors import is_sandbox
from oeskit.reports.redact import Redactor

# The note of the request being served; a ContextVar so the handlers, which only see the
# parsed body, can mark the fault they applied without a parameter through every layer.
NOTE: ContextVar[dict[str, Any] | None] = ContextVar("oeskit_request_note", default=None)
BODY_CAP = 64 * 1024  # bytes of a request body kept in the log
_PARTNER_API = "/api/network/"
_ENTERPRISES = "/enterprises/"
_STAGING_PREFIX = "/api/network/v2/enterprises/"
_STAGING_SUFFIX = "/partners/settlements"
_SIGNATURE_RULES = frozenset(
    {rules.SIG_MALFORMED, rules.SIG_PAYLOAD_JSON, rules.SIG_PAYLOAD_MISMATCH, rules.SIG_INVALID}
)
# The signature member of a JSON body, in raw bytes (the body may be cut at BODY_CAP).
_SIGNATURE_MEMBER = re.compile(rb'("signature"\s*:\s*)"(?:[^"\\]|\\.)*"')
MASK = b"***masked***"
REPLAYED = "replayed"  # the note's mark of a staging answered from the stored settlement
# Rules of the steps after the signature: a request refused by one of them was signed right.
_PAST_SIGNATURE = ("OES-IDEM-", "OES-AMT-", "OES-BAL-")


def is_staging(method: str, path: str) -> bool:
    """The v2 staging POST, the route client-test faults apply to."""
    return method == "POST" and path.startswith(_STAGING_PREFIX) and path.endswith(_STAGING_SUFFIX)


def enterprise_of(path: str) -> str | None:
    """The enterpriseId of a partner-API path (`/api/network/vN/enterprises/{id}/...`)."""
    if not path.startswith(_PARTNER_API):
        return None
    # find/slice rather than split: this runs for every request.
    marker = path.find(_ENTERPRISES, len(_PARTNER_API))
    if marker < 0:
        return None
    start = marker + len(_ENTERPRISES)
    end = path.find("/", start)
    return (path[start:] if end < 0 else path[start:end]) or None


def note_fault(kind: str) -> None:
    """Record in the current request's note that the sandbox applied fault `kind` to it."""
    note = NOTE.get()
    if note is not None:
        note["fault"] = kind


def note_replay() -> None:
    """Record in the current request's note that its staging was answered from the stored
    settlement (a 200 by OES-IDEM-001), for the metrics."""
    note = NOTE.get()
    if note is not None:
        note[REPLAYED] = True


def entry(
    at: str, scope: Mapping[str, Any], seen: dict[str, Any], duration_ms: float
) -> tuple[object, ...]:
    """The request-log row (store.sandbox_state.LOG_COLUMNS order) of one finished request."""
    path = scope.get("path", "")
    body: bytes | None = seen.get("body") or None
    if body is not None and is_sandbox(path):
        # Control-plane bodies carry worlds: private keys and bearer tokens. They are masked
        # before the row is kept (and before the cap, which could cut a value in two), with
        # the reports' redaction. Partner-API bodies hold no such secret; their signature is
        # masked when the log is read (`present`), so a grader can still ask for it.
        body = _redact_secrets(body)
    if body is not None and len(body) > BODY_CAP:
        body = body[:BODY_CAP]
    content_type: bytes | None = seen.get("content_type")
    return (
        at,
        scope.get("method", ""),
        path,
        int(seen["status"]),
        seen["rule"],
        round(duration_ms, 3),
        enterprise_of(path),
        content_type.decode("latin-1") if content_type else None,
        seen.get("retry_after"),
        seen.get("fault"),
        body,
    )


def _redact_secrets(body: bytes) -> bytes:
    text = body.decode("utf-8", "replace")
    return (Redactor().text(text) or "").encode()


def present(row: dict[str, Any], *, signatures: bool = False) -> dict[str, Any]:
    """A logged row as `LoggedRequest` of sandbox.yaml (absent values left out). The body's
    signature is masked unless `signatures` (a grader verifying them itself asks for them)."""
    raw: bytes | None = row.get("body")
    parsed = _json_object(raw)
    if raw and not signatures:
        raw = _SIGNATURE_MEMBER.sub(rb'\1"' + MASK + rb'"', raw)
    out = {
        "id": row["id"],
        "at": row["at"],
        "receivedAt": format_instant(
            parse_instant(row["at"]) - timedelta(milliseconds=row["duration_ms"])
        ),
        "method": row["method"],
        "path": row["path"],
        "status": row["status"],
        "rule": row["rule"],
        "durationMs": row["duration_ms"],
        "enterpriseId": row.get("enterprise_id"),
        "contentType": row.get("content_type"),
        "retryAfter": row.get("retry_after"),
        "fault": row.get("fault"),
        "body": raw.decode("utf-8", "replace") if raw else None,
        "bodyTruncated": True if raw and len(raw) >= BODY_CAP else None,
        "externalId": _text(parsed.get("externalId")) if parsed else None,
        "fingerprint": _fingerprint_or_none(parsed) if parsed else None,
        "signatureVerdict": _signature_verdict(row),
        "outbound": True if not str(row["path"]).startswith("/") else None,
    }
    return {k: v for k, v in out.items() if v is not None}


def fingerprint(body: dict[str, Any]) -> str:
    """The settlement properties of a staging body (notes, cutoffAt, settlementAmounts) as a
    short hash: two requests with one fingerprint ask for the same settlement. nonce, payload
    and signature are not properties."""
    material = {k: body.get(k) for k in ("notes", "cutoffAt", "settlementAmounts")}
    return hashlib.sha256(orjson.dumps(material, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def _fingerprint_or_none(body: dict[str, Any]) -> str | None:
    try:
        return fingerprint(body)
    except TypeError:  # orjson writes at most 255 levels; a refused body may nest deeper
        return None


def _signature_verdict(row: dict[str, Any]) -> str | None:
    """The signature rule the request broke, `valid` if it got past the signature checks, or
    absent when they never ran (refused earlier, or not a staging request)."""
    rule = row["rule"]
    if rule in _SIGNATURE_RULES:
        return str(rule)
    if not is_staging(row["method"], row["path"]):
        return None
    if row["status"] == 200 or row.get("fault") in ("fail_after_commit", "hold"):
        return "valid"
    if rule and str(rule).startswith(_PAST_SIGNATURE):
        return "valid"
    return None


def _json_object(raw: bytes | None) -> dict[str, Any] | None:
    if not raw:
        return None
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None  # not JSON, or cut at BODY_CAP
    return value if isinstance(value, dict) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
