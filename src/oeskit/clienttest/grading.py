"""Grading one plan run: the recorded traffic, the settlements that exist and the client's exit
status become findings, each naming a client rule. Pure: no I/O, no clock; the same inputs give
the same verdict (timing checks compare recorded server times with a margin)."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from oeskit import signing
from oeskit.clienttest import plans, traffic
from oeskit.clienttest.plans import Plan
from oeskit.clienttest.world import RunWorld
from oeskit.reports.model import Exchange, Finding, Status
from oeskit.reports.redact import Redactor

# A client that sleeps exactly Retry-After is on time; the margin absorbs clock rounding (the
# log keeps milliseconds) and never lets a client that ignored the header (gap ~0) pass.
RETRY_AFTER_MARGIN_S = 0.1
_REFUSED = range(400, 500)


@dataclass(frozen=True, slots=True)
class Observed:
    """What one plan run left behind, as read over HTTP after the client finished."""

    plan: Plan
    world: RunWorld
    task: dict[str, Any]
    requests: tuple[dict[str, Any], ...]  # this enterprise's request log, oldest first
    settlements: tuple[dict[str, Any], ...]
    exit_code: int | None  # None: not known (interactive --wait mode)
    timed_out: bool = False
    timeout_s: float = 0.0


def grade(seen: Observed) -> tuple[list[Finding], list[Exchange]]:
    """The findings of one run (empty: PASSED) and its exchanges, each labelled with its place
    in the timeline."""
    secrets = [seen.world.token, seen.world.key.private_key or ""]
    exchanges = traffic.timeline(seen.requests, Redactor(secrets))
    stagings = [
        traffic.staging(log, ex)
        for log, ex in zip(seen.requests, exchanges, strict=True)
        if log["method"] == "POST" and "/v2/" in log["path"]
    ]
    if seen.timed_out:
        return [
            _finding(
                plans.ACTIVITY,
                f"the client was still running after {seen.timeout_s:g} s and was killed",
                "finish within --timeout",
                f"{len(seen.requests)} requests seen before the kill",
            )
        ], exchanges
    if not stagings:
        return [
            _finding(
                plans.ACTIVITY,
                "no request arrived: the client never called the staging route",
                "POST the task to $OES_BASE_URL/api/network/v2/enterprises/$OES_ENTERPRISE_ID/"
                "partners/settlements",
                f"{len(seen.requests)} other requests; exit status {seen.exit_code}",
            )
        ], exchanges
    findings: list[Finding] = []
    for s in stagings:
        findings += _each_request(s, seen.world)
    findings += _nonces(stagings) + _external_ids(stagings)
    findings += _retries(stagings) + _refusals(stagings)
    findings += _outcome(seen, stagings)
    return findings, exchanges


# ---- per request -------------------------------------------------------------------------


def _each_request(s: traffic.Staging, world: RunWorld) -> list[Finding]:
    content_type = str(s.log.get("contentType", "")).split(";")[0].strip().lower()
    if content_type != "application/json" or s.body is None:
        return [
            _finding(
                plans.CONTENT_TYPE,
                "the staging request is not a JSON object sent as application/json",
                "Content-Type: application/json and a JSON object body",
                f"Content-Type {s.log.get('contentType')!r}, answered {s.log['status']}",
                s,
            )
        ]
    out: list[Finding] = []
    payload, signature = s.body.get("payload"), s.body.get("signature")
    if not isinstance(payload, str) or not isinstance(signature, str):
        return [
            _finding(
                plans.SIGNATURE,
                "the body has no payload string or no signature string",
                "payload (the signed JSON string) and signature (hex) in every staging body",
                f"payload {type(payload).__name__}, signature {type(signature).__name__}",
                s,
            )
        ]
    if not signing.verify(payload, signature, world.key):
        out.append(
            _finding(
                plans.SIGNATURE,
                f"the signature does not verify with the partner's {world.key.scheme} key"
                + _scheme_hint(signature, world.key.scheme),
                f"a {world.key.scheme} signature over the exact payload string",
                f"sandbox verdict {s.log.get('signatureVerdict', 'none')}; answered "
                f"{s.log['status']} {s.log.get('rule') or ''}".rstrip(),
                s,
            )
        )
    try:
        mismatched = signing.payload_mismatches(signing.parse_payload(payload), s.body)
    except signing.PayloadNotJSON as exc:
        mismatched = [str(exc)]
    if mismatched:
        out.append(
            _finding(
                plans.PAYLOAD,
                "the signed payload and the body differ in: " + ", ".join(mismatched),
                "the payload carries every signed field of the body with the same value",
                f"answered {s.log['status']} {s.log.get('rule') or ''}".rstrip(),
                s,
            )
        )
    return out


def _scheme_hint(signature: str, scheme: str) -> str:
    if scheme == signing.BITCOIN_MESSAGE and len(signature) == 128:
        return (
            " (it has the length of an Ed25519 signature: a secp256k1 key signs Bitcoin "
            "signed messages)"
        )
    return ""


# ---- across requests ---------------------------------------------------------------------


def _nonces(stagings: Sequence[traffic.Staging]) -> list[Finding]:
    uses: dict[object, list[traffic.Staging]] = defaultdict(list)
    for s in stagings:
        if s.body and s.body.get("nonce") is not None:
            uses[s.body["nonce"]].append(s)
    out = []
    for nonce, used in uses.items():
        settlements = {(u.external_id, u.fingerprint) for u in used}
        if len(settlements) > 1:
            out.append(
                _finding(
                    plans.NONCE,
                    f"nonce {str(nonce)[:16]}... signs {len(settlements)} different settlements",
                    "a fresh random nonce for every new settlement",
                    ", ".join(sorted(str(e) for e, _ in settlements)),
                    used[-1],
                )
            )
    return out


def _external_ids(stagings: Sequence[traffic.Staging]) -> list[Finding]:
    out = []
    kinds: dict[object, set[str | None]] = defaultdict(set)
    for s in stagings:
        kinds[s.external_id].add(s.fingerprint)
        if s.log.get("rule") == "OES-IDEM-002":
            out.append(
                _finding(
                    plans.EXTERNAL_ID,
                    f"externalId {s.external_id!r} was resent with other properties (409)",
                    "a retry resends the same properties; a new settlement takes a new externalId",
                    "409 OES-IDEM-002",
                    s,
                )
            )
    for external_id, fingerprints in kinds.items():
        if len(fingerprints) > 1 and not out:
            out.append(
                _finding(
                    plans.EXTERNAL_ID,
                    f"externalId {external_id!r} carries {len(fingerprints)} different "
                    "sets of properties",
                    "one externalId, one set of properties",
                    ", ".join(sorted(str(f) for f in fingerprints)),
                )
            )
    return out


def _retries(stagings: Sequence[traffic.Staging]) -> list[Finding]:
    out = []
    for before, after in itertools.pairwise(stagings):
        status, fault = before.log["status"], before.log.get("fault")
        # A held answer the client gave up on: it resent before that answer was sent.
        gave_up = fault == "hold" and after.received < before.answered
        if status >= 500 or gave_up:
            why = f"a {status}" if status >= 500 else "a timeout"
            if (after.external_id, after.fingerprint) != (before.external_id, before.fingerprint):
                other = "" if after.fingerprint == before.fingerprint else " (other properties)"
                out.append(
                    _finding(
                        plans.SAME_RETRY,
                        f"after {why}, the next request carried externalId "
                        f"{after.external_id!r} instead of {before.external_id!r}{other}",
                        f"resend externalId {before.external_id!r} with unchanged properties",
                        f"externalId {after.external_id!r}, answered {after.log['status']}",
                        after,
                    )
                )
        retry_after = before.log.get("retryAfter")
        if status == 503 and retry_after is not None:
            # The server stamps an answer once it has sent it, so a client that resends at
            # once can arrive a hair before that stamp: the gap is then zero, not negative.
            gap = max(0.0, (after.received - before.answered).total_seconds())
            wanted = float(retry_after)
            if gap < wanted - RETRY_AFTER_MARGIN_S:
                out.append(
                    _finding(
                        plans.RETRY_AFTER,
                        f"resent {gap:.3f} s after a 503 that asked for Retry-After: {retry_after}",
                        f"wait at least {wanted:g} s",
                        f"{gap:.3f} s",
                        after,
                    )
                )
    return out


def _refusals(stagings: Sequence[traffic.Staging]) -> list[Finding]:
    out = []
    for i, refused in enumerate(stagings):
        if refused.log["status"] not in _REFUSED:
            continue
        same = (refused.external_id, refused.fingerprint)
        if any(
            (earlier.external_id, earlier.fingerprint) == same and earlier.log["status"] in _REFUSED
            for earlier in stagings[:i]
        ):
            continue  # counted from its first refusal
        resent = [s for s in stagings[i + 1 :] if (s.external_id, s.fingerprint) == same]
        if len(resent) > 1:
            out.append(
                _finding(
                    plans.REFUSAL,
                    f"a request refused with {refused.log['status']} "
                    f"{refused.log.get('rule') or ''} was resent unchanged {len(resent)} times",
                    "read the refusal, resend it at most once, then stop and report it",
                    f"{len(resent)} resends",
                    resent[-1],
                )
            )
    return out


def _outcome(seen: Observed, stagings: Sequence[traffic.Staging]) -> list[Finding]:
    out = []
    wanted = seen.plan.staged
    count = len(seen.settlements)
    task = traffic.properties(seen.task)
    if count != wanted:
        externals = ", ".join(repr(s.get("externalId")) for s in seen.settlements) or "none"
        if count > wanted:
            message = f"the task ended staged {count} times (double settlement)"
        else:
            message = "the task was never staged (the client gave up or never got a 200)"
        out.append(
            _finding(
                plans.EXACTLY_ONCE,
                message,
                f"{wanted} settlement(s) for the task",
                f"{count} settlement(s): {externals}",
            )
        )
    changed = [s for s in stagings if s.fingerprint is not None and s.fingerprint != task]
    if changed:
        out.append(
            _finding(
                plans.EXACTLY_ONCE,
                "a staging request asked for other properties than the task "
                "(notes, cutoffAt or settlementAmounts changed)",
                "stage OES_TASK as given",
                f"{len(changed)} request(s) with other properties",
                changed[0],
            )
        )
    if seen.exit_code is not None:
        staged = count > 0
        if staged != (seen.exit_code == 0):
            out.append(
                _finding(
                    plans.EXIT_STATUS,
                    f"exited {seen.exit_code} although the task was "
                    + ("staged" if staged else "not staged"),
                    "exit 0 when staged, non-zero when not",
                    f"exit status {seen.exit_code}",
                )
            )
    return out


# ---- plumbing ----------------------------------------------------------------------------


def _finding(
    rule: str, message: str, expected: str, actual: str, at: traffic.Staging | None = None
) -> Finding:
    return Finding(
        Status.FAILED,
        rule,
        message,
        expected=expected,
        actual=actual,
        step=at.exchange.step if at else "outcome",
        exchange=at.exchange if at else None,
    )
