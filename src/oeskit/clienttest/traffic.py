"""The recorded traffic as the grader reads it: each logged request as an Exchange placed on the
run's timeline (redacted as it is recorded), staging requests with their bodies parsed, and the
settlement properties of a body. Pure: no I/O."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from oeskit.reports.model import Exchange
from oeskit.reports.redact import Redactor


@dataclass(frozen=True, slots=True)
class Staging:
    """One logged staging request with its body parsed."""

    log: dict[str, Any]
    body: dict[str, Any] | None
    exchange: Exchange
    received: datetime
    answered: datetime

    @property
    def external_id(self) -> object:
        return self.body.get("externalId") if self.body else None

    @property
    def fingerprint(self) -> str | None:
        return properties(self.body) if self.body else None


def properties(body: dict[str, Any]) -> str:
    """The settlement properties of a body (notes, cutoffAt, settlementAmounts) as a hash."""
    material = {k: body.get(k) for k in ("notes", "cutoffAt", "settlementAmounts")}
    return hashlib.sha256(orjson.dumps(material, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def staging(log: dict[str, Any], exchange: Exchange) -> Staging:
    body: dict[str, Any] | None = None
    try:
        parsed = orjson.loads(log.get("body") or "")
        body = parsed if isinstance(parsed, dict) else None
    except orjson.JSONDecodeError:
        body = None
    return Staging(log, body, exchange, instant(log["receivedAt"]), instant(log["at"]))


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def timeline(requests: Sequence[dict[str, Any]], redactor: Redactor) -> list[Exchange]:
    """Each request as an Exchange (redacted as it is recorded) whose `step` places it in time:
    seconds since the first request, what came back, the Retry-After given and the gap the
    client left."""
    out = []
    first = instant(requests[0]["receivedAt"]) if requests else None
    previous: datetime | None = None
    for r in requests:
        received, answered = instant(r["receivedAt"]), instant(r["at"])
        assert first is not None
        parts = [
            f"t+{(received - first).total_seconds():.3f}s {r['method']} → {r['status']}",
            str(r.get("rule") or ""),
        ]
        if r.get("retryAfter"):
            parts.append(f"Retry-After {r['retryAfter']}")
        if r.get("fault"):
            parts.append(f"(sandbox fault: {r['fault']})")
        if previous is not None:
            gap = max(0.0, (received - previous).total_seconds())  # see grading: never < 0
            parts.append(f"gap {gap:.3f}s after the last answer")
        previous = answered
        headers = {"Retry-After": str(r["retryAfter"])} if r.get("retryAfter") else {}
        out.append(
            Exchange(
                method=r["method"],
                url=r["path"],
                request_headers={"Content-Type": str(r.get("contentType", ""))},
                request_body=redactor.text(r.get("body")),
                status=int(r["status"]),
                response_headers=headers,
                response_body=orjson.dumps({"rule": r["rule"]}).decode() if r.get("rule") else None,
                elapsed_ms=float(r["durationMs"]),
                step=" ".join(p for p in parts if p),
            )
        )
    return out
