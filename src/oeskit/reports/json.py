"""report.json: the stable machine-readable report (shape documented in docs/conformance.md)."""

from __future__ import annotations

import json
from typing import Any

from oeskit.reports.model import Report
from oeskit.reports.redact import Redactor

SCHEMA_VERSION = 1


def as_dict(report: Report) -> dict[str, Any]:
    return {
        "schemaVersion": SCHEMA_VERSION,
        "target": report.target,
        "startedAt": report.started_at,
        "durationSeconds": round(report.duration_s, 3),
        "seed": report.seed,
        "summary": report.summary.to_dict(),
        "rules": [r.to_dict() for r in report.rules],
        "results": [r.to_dict() for r in report.results],
    }


def render(report: Report) -> str:
    text = json.dumps(as_dict(report), indent=2, ensure_ascii=False)
    return Redactor(report.secrets).text(text) or ""
