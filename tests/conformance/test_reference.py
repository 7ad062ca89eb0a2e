"""The suite against the reference sandbox: everything passes within the time budget, and the
reports have their documented shapes and leak no secret."""

from __future__ import annotations

import json
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from oeskit import signing
from oeskit.cli import main
from oeskit.conformance.events import RunFinished
from oeskit.conformance.profile import fixtures_dir, profile_from_dict, sandbox_profile
from oeskit.conformance.runner import RunConfig, run
from oeskit.reports.writer import write_reports
from tests.conftest import ADMIN, LiveServer, start_server, stop_server

BUDGET_S = 60
# The tests reading the one default conform run share it on one xdist worker (it takes seconds).
FULL_RUN = pytest.mark.xdist_group("reference-full-run")
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("reference"))
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def full_run(
    reference: LiveServer, tmp_path_factory: pytest.TempPathFactory
) -> tuple[int, Path, float]:
    report_dir = tmp_path_factory.mktemp("reports")
    started = time.perf_counter()
    result = CliRunner().invoke(
        main,
        [
            "conform",
            "--target",
            reference.base_url,
            "--sandbox-token",
            ADMIN,
            "--report-dir",
            str(report_dir),
        ],
    )
    elapsed = time.perf_counter() - started
    print(f"\ndefault conform run against the reference: {elapsed:.1f} s")
    assert (report_dir / "report.json").exists(), result.output
    return result.exit_code, report_dir, elapsed


@FULL_RUN
def test_reference_passes(full_run: tuple[int, Path, float]) -> None:
    """The default run (all scenarios + fuzz) finds nothing FAILED in the reference: exit 0."""
    code, report_dir, _ = full_run
    report = json.loads((report_dir / "report.json").read_text())
    failed = [(r["id"], r["reason"]) for r in report["results"] if r["status"] == "FAILED"]
    assert failed == []
    assert code == 0
    skipped = {r["id"] for r in report["results"] if r["status"] == "SKIPPED"}
    # Each needs a capability no HTTP black box has (saturate the database; stall a body; a
    # full, read-only or deleted database), or a partner's hosted endpoints to call
    # (tests/bitgo runs that one against the reference partner).
    assert skipped == {
        "server-busy-retry-after",
        "server-stalled-body",
        "server-storage-full",
        "server-database-gone",
        "allocations-end-to-end",
    }


@FULL_RUN
def test_default_run_within_budget(full_run: tuple[int, Path, float]) -> None:
    """All scenarios plus the default fuzz budget take at most 60 s against a local sandbox."""
    assert full_run[2] <= BUDGET_S


@FULL_RUN
def test_report_json_shape(full_run: tuple[int, Path, float]) -> None:
    """report.json has the documented stable keys."""
    report = json.loads((full_run[1] / "report.json").read_text())
    assert set(report["summary"]) == {"passed", "failed", "warnings", "skipped"}
    assert {
        "schemaVersion",
        "target",
        "startedAt",
        "durationSeconds",
        "seed",
        "rules",
        "results",
    } <= set(report)
    for result in report["results"]:
        assert {
            "id",
            "title",
            "rules",
            "status",
            "kind",
            "reason",
            "findings",
            "exchanges",
            "reproduce",
            "durationSeconds",
            "tags",
        } <= set(result)
        assert result["status"] in {"PASSED", "FAILED", "WARNING", "SKIPPED"}
    assert {r["id"] for r in report["rules"]} >= {"OES-SIG-004", "OES-STG-001"}
    assert all({"id", "title", "status", "scenarios"} <= set(r) for r in report["rules"])


@FULL_RUN
def test_junit_parses(full_run: tuple[int, Path, float]) -> None:
    """junit.xml parses and has one testcase per result."""
    report = json.loads((full_run[1] / "report.json").read_text())
    suite = ET.parse(full_run[1] / "junit.xml").getroot()  # noqa: S314 - our own output
    assert len(suite.findall("testcase")) == len(report["results"])
    assert suite.get("failures") == "0"


@FULL_RUN
def test_html_and_markdown_written(full_run: tuple[int, Path, float]) -> None:
    """report.html is one self-contained file; report.md opens with the summary."""
    html = (full_run[1] / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html and "http-equiv" not in html
    assert "<link" not in html and "src=" not in html
    assert html.index("id='summary'") < html.index("<h2>Rules</h2>")
    assert (full_run[1] / "report.md").read_text().startswith("## oeskit conformance")


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed")
@FULL_RUN
def test_html_renders_in_chromium(full_run: tuple[int, Path, float], tmp_path: Path) -> None:
    """Headless Chromium renders report.html to a DOM containing the summary."""
    out = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--dump-dom",
            (full_run[1] / "report.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "oeskit conformance report" in out.stdout and "Passed" in out.stdout


PLANTED = "planted-fake-secret-5f3c9a"


def test_planted_secret_never_in_reports(reference: LiveServer, tmp_path: Path) -> None:
    """A secret token and private key of the profile appear in no report, even in a failure."""
    key = signing.generate(signing.ED25519)
    data: dict[str, Any] = yaml.safe_load((fixtures_dir() / "profiles" / "demo.yaml").read_text())
    data["tokens"]["planted"] = PLANTED
    data["keys"]["planted"] = {"scheme": "ed25519", "privateKey": key.private_key}
    data["sandboxToken"] = ADMIN
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "leak.yaml").write_text(
        yaml.safe_dump(
            [
                {
                    "id": "leak",
                    "title": "a failing step that sends the planted secrets",
                    "rules": ["OES-AUTH-001"],
                    "steps": [
                        {
                            "call": "POST {v2}/settlements",
                            "as": "planted",
                            "sign": "planted",
                            "body": {
                                "externalId": "leak",
                                "notes": PLANTED,
                                "settlementAmounts": {"{conn.alpha}": {"BTC": "-1"}},
                            },
                            "expect": {"status": 200},
                        }
                    ],
                }
            ]
        )
    )
    config = RunConfig(
        target=reference.base_url,
        profile=profile_from_dict(data),
        fuzz=False,
        scenarios_dir=scenarios,
    )
    report = next(e.report for e in run(config) if isinstance(e, RunFinished))
    assert report.summary.failed == 1
    for path in write_reports(report, tmp_path / "out", ["json", "junit", "html", "md"]):
        text = path.read_text()
        assert PLANTED not in text, path.name
        assert str(key.private_key) not in text, path.name
        assert ADMIN not in text, path.name
    assert "***redacted***" in (tmp_path / "out" / "report.json").read_text()


def test_foreign_target_skips_undeclared_capabilities(
    reference: LiveServer, tmp_path: Path
) -> None:
    """With a profile declaring no capabilities, world-seeded scenarios are SKIPPED with the
    reason, and the others still run."""
    data = yaml.safe_load((fixtures_dir() / "profiles" / "demo.yaml").read_text())
    data["capabilities"] = []
    config = RunConfig(
        target=reference.base_url,
        profile=profile_from_dict(data),
        fuzz=False,
        scenario_ids=("lifecycle-completes", "sig-wrong-key"),
    )
    report = next(e.report for e in run(config) if isinstance(e, RunFinished))
    by_id = {r.id: r for r in report.results}
    assert by_id["lifecycle-completes"].status.value == "SKIPPED"
    assert "clock" in by_id["lifecycle-completes"].reason
    assert by_id["sig-wrong-key"].status.value == "PASSED"


def test_fail_on_warning(reference: LiveServer, tmp_path: Path) -> None:
    """A `warn: true` expectation that does not hold is a WARNING: exit 0, unless fail_on is
    "warning"."""
    (tmp_path / "warn.yaml").write_text(
        yaml.safe_dump(
            [
                {
                    "id": "warn",
                    "title": "a soft expectation that does not hold",
                    "rules": ["OES-STG-001"],
                    "steps": [
                        {"call": "GET {v1}/settlements", "expect": {"status": 418, "warn": True}}
                    ],
                }
            ]
        )
    )
    config = RunConfig(
        target=reference.base_url,
        profile=sandbox_profile(ADMIN),
        fuzz=False,
        scenarios_dir=tmp_path,
    )
    report = next(e.report for e in run(config) if isinstance(e, RunFinished))
    assert report.summary.warnings == 1
    assert report.exit_code() == 0
    assert report.exit_code("warning") == 1
