"""Helpers of the hosted-test tests: an RSA key pair for BitGo, a profile file, and `oeskit
hosted-test` run through click (apps are served with `tests.threaded.serve`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner, Result

from oeskit.cli import main

PARTNER_ID = "7f1e3c2a-5b4d-4e6f-8a9b-0c1d2e3f4a5b"
TOKENS = tuple(f"ct-{n:02d}-9f8e7d6c" for n in range(20))


def write_profile(
    path: Path,
    *,
    tokens: tuple[str, ...] = TOKENS,
    capabilities: tuple[str, ...] = ("release", "bodyBinding"),
    partner_id: str | None = PARTNER_ID,
) -> Path:
    data: dict[str, Any] = {"connectionTokens": list(tokens), "capabilities": list(capabilities)}
    if partner_id is not None:
        data["partnerId"] = partner_id
    path.write_text(yaml.safe_dump(data))
    return path


def hosted_test(
    target: str, key: Path, report_dir: Path, *args: str, profile: Path | None = None
) -> tuple[Result, dict[str, Any]]:
    """Run `oeskit hosted-test` and return its click result and report.json."""
    argv = ["hosted-test", "--target", target, "--bitgo-key", str(key)]
    argv += ["--report-dir", str(report_dir), *args]
    if profile is not None:
        argv += ["--profile", str(profile)]
    result = CliRunner().invoke(main, argv)
    report_path = report_dir / "report.json"
    assert report_path.exists(), result.output
    return result, json.loads(report_path.read_text())


def failed(report: dict[str, Any]) -> dict[str, str]:
    """Failed scenario ids and their reasons (for assertion messages)."""
    return {r["id"]: r["reason"] for r in report["results"] if r["status"] == "FAILED"}


def rule_status(report: dict[str, Any]) -> dict[str, str]:
    return {r["id"]: r["status"] for r in report["rules"]}
