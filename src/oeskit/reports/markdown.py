"""report.md: a short summary for a pull-request comment: totals, failing rules, failures."""

from __future__ import annotations

from oeskit.reports.model import Report, Status
from oeskit.reports.redact import Redactor

_ICON = {Status.PASSED: "✅", Status.FAILED: "❌", Status.WARNING: "⚠️", Status.SKIPPED: "⏭️"}


def render(report: Report) -> str:
    s = report.summary
    lines = [
        f"## {report.suite}",
        "",
        f"Target `{report.target}` · {report.started_at} · {report.duration_s:.1f} s · "
        f"seed {report.seed}",
        "",
        "| Passed | Failed | Warnings | Skipped |",
        "|---:|---:|---:|---:|",
        f"| {s.passed} | {s.failed} | {s.warnings} | {s.skipped} |",
        "",
        "### Rules",
        "",
        "| Rule | Status | Scenarios |",
        "|---|---|---|",
    ]
    for rule in report.rules:
        lines.append(
            f"| `{rule.id}` | {_ICON[rule.status]} {rule.status.value} | "
            f"{', '.join(rule.scenarios) or '-'} |"
        )
    problems = [r for r in report.results if r.status in (Status.FAILED, Status.WARNING)]
    if problems:
        lines += ["", "### Failures and warnings", ""]
    for result in problems:
        lines.append(
            f"<details><summary>{_ICON[result.status]} <b>{result.id}</b> "
            f"({', '.join(result.rules)}): {result.reason or result.title}</summary>"
        )
        lines.append("")
        for f in result.findings[:5]:
            lines.append(
                f"- **{f.step}**: {f.message}; expected `{f.expected}`, got `{f.actual[:200]}`"
            )
        if result.reproduce:
            lines += ["", f"Reproduce: `{result.reproduce}`"]
        lines += ["", "</details>", ""]
    skipped = [r for r in report.results if r.status is Status.SKIPPED]
    if skipped:
        lines += ["", "### Skipped", ""] + [f"- `{r.id}`: {r.reason}" for r in skipped]
    return Redactor(report.secrets).text("\n".join(lines) + "\n") or ""
