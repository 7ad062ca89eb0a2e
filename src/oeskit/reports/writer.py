"""Writing the chosen report formats into a directory, from the RunFinished event's report."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from oeskit.reports import html, json, junit, markdown
from oeskit.reports.model import Report

FORMATS = {
    "json": ("report.json", json.render),
    "junit": ("junit.xml", junit.render),
    "html": ("report.html", html.render),
    "md": ("report.md", markdown.render),
}


def stamped_dir(root: Path) -> Path:
    return root / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def write_reports(report: Report, directory: Path, formats: list[str]) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in formats:
        filename, render = FORMATS[name]
        path = directory / filename
        path.write_text(render(report), encoding="utf-8")
        written.append(path)
    return written
