"""Verdicts as plain data: statuses, findings, recorded exchanges, scenario and rule results, and
the report. The conformance runner (and any other grader) builds them; the writers in this
package render them and never compute verdicts themselves. No I/O here."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Status(enum.StrEnum):
    PASSED = "PASSED"
    FAILED = "FAILED"
    WARNING = "WARNING"
    SKIPPED = "SKIPPED"


# Worst first: a rule is FAILED if anything about it failed, then WARNING, PASSED, SKIPPED.
_SEVERITY = {Status.FAILED: 3, Status.WARNING: 2, Status.PASSED: 1, Status.SKIPPED: 0}


def worst(statuses: list[Status]) -> Status:
    """The most severe status of a non-empty list (SKIPPED when empty)."""
    return max(statuses, key=_SEVERITY.__getitem__, default=Status.SKIPPED)


@dataclass(frozen=True, slots=True)
class Exchange:
    """One HTTP request and its response, already redacted when recorded."""

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str | None
    status: int | None
    response_headers: dict[str, str]
    response_body: str | None
    elapsed_ms: float
    step: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "request": {
                "method": self.method,
                "url": self.url,
                "headers": self.request_headers,
                "body": self.request_body,
            },
            "response": {
                "status": self.status,
                "headers": self.response_headers,
                "body": self.response_body,
            },
            "elapsedMs": round(self.elapsed_ms, 1),
        }


@dataclass(frozen=True, slots=True)
class Finding:
    """One check that did not hold: what was expected, what came back, and the exchange."""

    severity: Status
    rule: str | None
    message: str
    expected: str = ""
    actual: str = ""
    step: str = ""
    exchange: Exchange | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity.value,
            "rule": self.rule,
            "message": self.message,
            "expected": self.expected,
            "actual": self.actual,
            "step": self.step,
            "exchange": self.exchange.to_dict() if self.exchange else None,
        }


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    """The verdict on one scenario (or one fuzzed operation, kind "fuzz")."""

    id: str
    title: str
    rules: tuple[str, ...]
    tags: tuple[str, ...]
    status: Status
    duration_s: float
    reason: str = ""
    findings: tuple[Finding, ...] = ()
    exchanges: tuple[Exchange, ...] = ()
    reproduce: str = ""
    kind: str = "scenario"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "kind": self.kind,
            "rules": list(self.rules),
            "tags": list(self.tags),
            "status": self.status.value,
            "reason": self.reason,
            "durationSeconds": round(self.duration_s, 3),
            "reproduce": self.reproduce,
            "findings": [f.to_dict() for f in self.findings],
            "exchanges": [e.to_dict() for e in self.exchanges],
        }


@dataclass(frozen=True, slots=True)
class RuleResult:
    """The verdict on one catalogue rule, derived from every result that names it."""

    id: str
    title: str
    status: Status
    scenarios: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status.value,
            "scenarios": list(self.scenarios),
        }


@dataclass(frozen=True, slots=True)
class Summary:
    passed: int
    failed: int
    warnings: int
    skipped: int

    def to_dict(self) -> dict[str, int]:
        return {
            "passed": self.passed,
            "failed": self.failed,
            "warnings": self.warnings,
            "skipped": self.skipped,
        }


@dataclass(frozen=True, slots=True)
class Report:
    """Everything a writer needs: the run's facts, every result, and the per-rule verdicts."""

    target: str
    started_at: str
    duration_s: float
    seed: int
    results: tuple[ScenarioResult, ...]
    rules: tuple[RuleResult, ...]
    summary: Summary
    secrets: tuple[str, ...] = field(default=(), repr=False)
    # What graded the target, as the writers title their reports (client-test reuses them).
    suite: str = "oeskit conformance"

    def exit_code(self, fail_on: str = "failure") -> int:
        """0 when nothing FAILED (and, with fail_on="warning", nothing WARNED); else 1."""
        failed = self.summary.failed or (fail_on == "warning" and self.summary.warnings)
        return 1 if failed else 0


def build_report(
    target: str,
    started_at: str,
    duration_s: float,
    seed: int,
    results: list[ScenarioResult],
    catalogue: list[dict[str, Any]],
    secrets: tuple[str, ...] = (),
    suite: str = "oeskit conformance",
) -> Report:
    """Derive the per-rule verdicts and the summary from the results."""
    rules: list[RuleResult] = []
    for rule in catalogue:
        naming = [r for r in results if rule["id"] in r.rules]
        statuses = [r.status for r in naming]
        # A fuzz finding names its own rule even when the fuzzed operation lists others.
        statuses += [
            f.severity
            for r in results
            for f in r.findings
            if f.rule == rule["id"] and r not in naming
        ]
        status = worst(statuses) if statuses else Status.SKIPPED
        rules.append(
            RuleResult(rule["id"], str(rule.get("title", "")), status, tuple(r.id for r in naming))
        )
    count = {s: sum(1 for r in results if r.status is s) for s in Status}
    summary = Summary(
        count[Status.PASSED], count[Status.FAILED], count[Status.WARNING], count[Status.SKIPPED]
    )
    return Report(
        target,
        started_at,
        duration_s,
        seed,
        tuple(results),
        tuple(rules),
        summary,
        secrets,
        suite,
    )
