"""Every check of the suite fails on the defect it exists for: conform against a defect-injected
variant of the reference exits non-zero with the rule naming the defect FAILED."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from oeskit.cli import main
from tests.conformance import defects
from tests.conftest import ADMIN

# (defect id, request hook, response hook, tags to run, rule that must be FAILED)
DEFECTS: list[tuple[str, Any, Any, list[str], str]] = [
    ("signatures-unchecked", defects.resign_everything, None, ["signature"], "OES-SIG-004"),
    ("payload-not-bound", defects.payload_not_bound, None, ["tamper"], "OES-SIG-003"),
    ("replay-creates-second", defects.replay_creates_new, None, ["idempotency"], "OES-IDEM-001"),
    ("conflict-answered-200", None, defects.conflict_as_200, ["idempotency"], "OES-IDEM-002"),
    ("liabilities-unchecked", defects.top_up_first, None, ["balances"], "OES-BAL-001"),
    ("disputes-unassigned", None, defects.disputes_unassigned, ["disputes"], "OES-STG-002"),
    ("missing-scope-200", None, defects.scope_ignored, ["auth"], "OES-AUTH-002"),
    ("200-breaks-schema", None, defects.schema_broken, ["happy"], "OES-STG-001"),
    ("200-impossible-date-time", None, defects.bad_date_time, ["happy"], "OES-STG-001"),
    ("error-without-rule", None, defects.rule_dropped, ["auth"], "OES-AUTH-001"),
    ("500-on-malformed-json", defects.crash_on_malformed, None, ["request"], "OES-REQ-001"),
]


def run_conform(target: str, report_dir: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(
        main,
        [
            "conform",
            "--target",
            target,
            "--sandbox-token",
            ADMIN,
            "--report-dir",
            str(report_dir),
            "--format",
            "json",
            *args,
        ],
    )
    report_path = report_dir / "report.json"
    assert report_path.exists(), result.output
    return result.exit_code, json.loads(report_path.read_text())


@pytest.mark.parametrize(
    ("defect", "on_request", "on_response", "tags", "rule"), DEFECTS, ids=[d[0] for d in DEFECTS]
)
def test_defect_is_caught(
    tmp_path: Path, defect: str, on_request: Any, on_response: Any, tags: list[str], rule: str
) -> None:
    """A target with this defect makes conform exit 1 with the rule naming it FAILED."""
    with defects.serve_defect(tmp_path, on_request, on_response) as url:
        code, report = run_conform(url, tmp_path / "report", *[f"--tag={t}" for t in tags])
    rules = {r["id"]: r["status"] for r in report["rules"]}
    assert code == 1
    assert rules[rule] == "FAILED", {k: v for k, v in rules.items() if v != "SKIPPED"}
    failed = [r for r in report["results"] if r["status"] == "FAILED"]
    assert all(r["reproduce"].startswith(f"oeskit conform --target {url}") for r in failed)
    assert all(r["findings"][0]["exchange"] for r in failed)


def test_wrapper_without_defect_passes(tmp_path: Path) -> None:
    """The wrapper itself changes nothing: the same tags pass through an identity wrapper."""
    with defects.serve_defect(tmp_path) as url:
        code, report = run_conform(url, tmp_path / "report", "--tag=signature", "--tag=auth")
    assert report["summary"]["failed"] == 0, [
        r["reason"] for r in report["results"] if r["status"] == "FAILED"
    ]
    assert code == 0


def test_fuzz_finds_server_error(tmp_path: Path) -> None:
    """The fuzz pass reports a 5xx on generated input as FAILED OES-SRV-001."""

    async def crash_v2(scope: Any, body: bytes, app: Any) -> Any:
        if scope["method"] == "POST" and "/v2/" in scope["path"]:
            return 500, {"content-type": "application/json"}, b'{"error":"x","rule":"OES-SRV-001"}'
        return body

    with defects.serve_defect(tmp_path, crash_v2) as url:
        code, report = run_conform(
            url,
            tmp_path / "report",
            "--scenario=stage-exchange-happy",
            "--fuzz",
            "--max-examples=3",
        )
    fuzz = {r["id"]: r for r in report["results"] if r["kind"] == "fuzz"}
    assert code == 1
    assert fuzz["fuzz:v2PartnerSettlementsPostRoute"]["status"] == "FAILED"
    assert "OES-SRV-001" in fuzz["fuzz:v2PartnerSettlementsPostRoute"]["rules"]
