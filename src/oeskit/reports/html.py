"""report.html: one self-contained page (inline CSS, no scripts or external assets): summary
first, a table per rule, then failures with their exchanges in <details>."""

from __future__ import annotations

import json
from html import escape

from oeskit.reports.model import Exchange, Report, ScenarioResult, Status
from oeskit.reports.redact import Redactor

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;width:100%;margin:.5em 0 1.5em}
td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
.PASSED{color:#17692b}.FAILED{color:#b00020;font-weight:bold}.WARNING{color:#9a6700}
.SKIPPED{color:#666}pre{background:#f6f8fa;padding:8px;overflow:auto;white-space:pre-wrap}
.cards span{display:inline-block;padding:8px 16px;margin-right:8px;border:1px solid #ddd}
"""


def render(report: Report) -> str:
    s = report.summary
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{escape(report.suite)} report</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{escape(report.suite)} report</h1>",
        f"<p>Target <code>{escape(report.target)}</code>, started {escape(report.started_at)}, "
        f"{report.duration_s:.1f} s, seed {report.seed}.</p>",
        "<div class='cards' id='summary'>",
        f"<span class='PASSED'>Passed {s.passed}</span>",
        f"<span class='FAILED'>Failed {s.failed}</span>",
        f"<span class='WARNING'>Warnings {s.warnings}</span>",
        f"<span class='SKIPPED'>Skipped {s.skipped}</span></div>",
    ]
    # What needs attention comes right after the summary, with its exchanges.
    attention = [r for r in report.results if r.status in (Status.FAILED, Status.WARNING)]
    if attention:
        parts.append("<h2>Failures and warnings</h2>")
        parts += [_result(r) for r in attention]
    parts.append("<h2>Rules</h2>")
    by_id = {r.id: r for r in report.results}
    for rule in report.rules:
        parts.append(
            f"<h3 id='{escape(rule.id)}'>{escape(rule.id)} "
            f"<span class='{rule.status.value}'>{rule.status.value}</span></h3>"
        )
        parts.append(
            f"<p>{escape(rule.title)}</p><table><tr><th>Scenario</th><th>Status</th>"
            "<th>Reason</th></tr>"
        )
        for scenario_id in rule.scenarios:
            result = by_id[scenario_id]
            parts.append(
                f"<tr><td><a href='#s-{escape(result.id)}'>{escape(result.id)}</a></td>"
                f"<td class='{result.status.value}'>{result.status.value}</td>"
                f"<td>{escape(result.reason)}</td></tr>"
            )
        parts.append("</table>")
    parts.append("<h2>All scenarios</h2>")
    parts += [_result(r, details=False) if r in attention else _result(r) for r in report.results]
    parts.append("</body></html>")
    return Redactor(report.secrets).text("\n".join(parts)) or ""


def _result(result: ScenarioResult, details: bool = True) -> str:
    anchor = (
        f" id='s-{escape(result.id)}'"
        if details or result.status not in (Status.FAILED, Status.WARNING)
        else ""
    )
    head = (
        f"<h3{anchor}>{escape(result.id)} <span "
        f"class='{result.status.value}'>{result.status.value}</span></h3>"
        f"<p>{escape(result.title)} ({escape(', '.join(result.rules))})"
        f"{' - ' + escape(result.reason) if result.reason else ''}</p>"
    )
    if result.status not in (Status.FAILED, Status.WARNING) or not details:
        return head
    rows = "".join(
        f"<tr><td>{escape(f.step)}</td><td class='{f.severity.value}'>{f.severity.value}</td>"
        f"<td>{escape(f.message)}</td><td><pre>{escape(f.expected)}</pre></td>"
        f"<td><pre>{escape(f.actual)}</pre></td></tr>"
        for f in result.findings
    )
    exchanges = "".join(_exchange(e) for e in result.exchanges)
    return (
        head + "<table><tr><th>Step</th><th>Severity</th><th>Check</th><th>Expected</th>"
        f"<th>Actual</th></tr>{rows}</table>"
        f"<p>Reproduce: <code>{escape(result.reproduce)}</code></p>{exchanges}"
    )


def _exchange(e: Exchange) -> str:
    request = (
        f"{e.method} {e.url}\n"
        + "\n".join(f"{k}: {v}" for k, v in e.request_headers.items())
        + f"\n\n{e.request_body or ''}"
    )
    response = (
        f"{e.status}\n"
        + "\n".join(f"{k}: {v}" for k, v in e.response_headers.items())
        + f"\n\n{_pretty(e.response_body)}"
    )
    return (
        f"<details><summary>{escape(e.step)}: {escape(e.method)} {escape(e.url)} &rarr; "
        f"{e.status}</summary><pre>{escape(request)}</pre><pre>{escape(response)}</pre>"
        "</details>"
    )


def _pretty(body: str | None) -> str:
    try:
        return json.dumps(json.loads(body or ""), indent=2)
    except ValueError:
        return body or ""
