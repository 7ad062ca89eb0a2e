"""junit.xml: one testcase per scenario (and per fuzzed operation), for CI dashboards."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from oeskit.reports.model import Report, Status
from oeskit.reports.redact import Redactor


def render(report: Report) -> str:
    redact = Redactor(report.secrets).text
    s = report.summary
    suite = ET.Element(
        "testsuite",
        name=report.suite,
        tests=str(len(report.results)),
        failures=str(s.failed),
        skipped=str(s.skipped),
        errors="0",
        time=f"{report.duration_s:.3f}",
        timestamp=report.started_at,
    )
    for result in report.results:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"oeskit.{result.kind}",
            name=result.id,
            time=f"{result.duration_s:.3f}",
        )
        ET.SubElement(case, "properties").extend(
            [ET.Element("property", name="rule", value=rule) for rule in result.rules]
        )
        details = "\n\n".join(
            f"[{f.severity.value}] {f.rule or ''} {f.step}: {f.message}\n"
            f"expected: {f.expected}\nactual: {f.actual}"
            for f in result.findings
        )
        details += f"\n\nreproduce: {result.reproduce}" if result.reproduce else ""
        if result.status is Status.FAILED:
            failure = ET.SubElement(case, "failure", message=redact(result.reason) or "failed")
            failure.text = redact(details)
        elif result.status is Status.SKIPPED:
            ET.SubElement(case, "skipped", message=redact(result.reason) or "skipped")
        elif result.status is Status.WARNING:
            ET.SubElement(case, "system-out").text = redact("WARNING\n" + details)
    ET.indent(suite)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)
