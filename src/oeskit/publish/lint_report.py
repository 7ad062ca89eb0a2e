"""Writing `oeskit lint` findings as text, JSON, SARIF 2.1.0 (code scanning) or JUnit XML."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from oeskit.publish.lint import CHECKS, Finding

_SARIF_LEVEL = {"error": "error", "warning": "warning"}


def _headline(findings: Sequence[Finding], sources: Sequence[str]) -> str:
    errors = sum(1 for f in findings if f.severity == "error")
    warnings = len(findings) - errors
    return f"{len(sources)} document(s): {errors} error(s), {warnings} warning(s)"


def text(findings: Sequence[Finding], sources: Sequence[str]) -> str:
    lines = [f"{f.source}: {f.severity} {f.check} {f.path or '/'}: {f.message}" for f in findings]
    lines.append(_headline(findings, sources))
    return "\n".join(lines) + "\n"


def as_json(findings: Sequence[Finding], sources: Sequence[str]) -> str:
    document = {
        "documents": list(sources),
        "errors": sum(1 for f in findings if f.severity == "error"),
        "warnings": sum(1 for f in findings if f.severity == "warning"),
        "findings": [
            {
                "severity": f.severity,
                "check": f.check,
                "source": f.source,
                "path": f.path,
                "message": f.message,
            }
            for f in findings
        ],
    }
    return json.dumps(document, indent=2) + "\n"


def sarif(findings: Sequence[Finding], sources: Sequence[str]) -> str:
    """SARIF 2.1.0: one run, one rule per check; the JSON pointer is the logical location."""
    document = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "oeskit lint",
                        "rules": [
                            {"id": check, "shortDescription": {"text": why}}
                            for check, why in CHECKS.items()
                        ],
                    }
                },
                "results": [
                    {
                        "ruleId": f.check,
                        "level": _SARIF_LEVEL[f.severity],
                        "message": {"text": f.message},
                        "locations": [
                            {
                                "physicalLocation": {"artifactLocation": {"uri": f.source}},
                                "logicalLocations": [{"fullyQualifiedName": f.path or "/"}],
                            }
                        ],
                    }
                    for f in findings
                ],
            }
        ],
    }
    return json.dumps(document, indent=2) + "\n"


def junit(findings: Sequence[Finding], sources: Sequence[str]) -> str:
    """One test suite per document, one test case per check; an error finding is a failure."""
    suites = ET.Element("testsuites", name="oeskit lint")
    for source in sources:
        mine = [f for f in findings if f.source == source]
        failures = sum(1 for f in mine if f.severity == "error")
        suite = ET.SubElement(
            suites, "testsuite", name=source, tests=str(len(CHECKS)), failures=str(failures)
        )
        for check in CHECKS:
            case = ET.SubElement(suite, "testcase", classname=source, name=check)
            for f in mine:
                if f.check != check:
                    continue
                tag = "failure" if f.severity == "error" else "system-out"
                node = ET.SubElement(case, tag)
                if tag == "failure":
                    node.set("message", f"{f.path or '/'}: {f.message}")
                node.text = f"{f.severity} {f.path or '/'}: {f.message}"
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
