"""`oeskit conform` against systems that only know the contract's shapes (issue #18 items 9,
10): a canned-answer server and real Prism pass no scenario that stages or signs, a control
plane that refuses the run stops it with one clear line, and the reports are always written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from oeskit.cli import main
from oeskit.conformance.profile import fixtures_dir
from oeskit.conformance.scenario import load_scenarios
from tests.conformance.mocks import canned_server, prism_binary, prism_server, stages_or_signs
from tests.conftest import ADMIN, LiveServer, start_server, stop_server

STAGING_OR_SIGNING = {s.id for s in load_scenarios() if stages_or_signs(s)}


def _foreign_profile(tmp_path: Path) -> Path:
    """The demo profile's roles, as for a system that is not an oeskit sandbox."""
    data = yaml.safe_load((fixtures_dir() / "profiles" / "demo.yaml").read_text())
    data["capabilities"] = []
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _conform(*args: str) -> tuple[int, str, dict[str, Any], Path]:
    report_dir = Path(args[args.index("--report-dir") + 1])
    result = CliRunner().invoke(main, ["conform", *args])
    assert (report_dir / "report.json").exists(), result.output
    for name in ("junit.xml", "report.html", "report.md"):
        assert (report_dir / name).exists(), name
    report = json.loads((report_dir / "report.json").read_text())
    return result.exit_code, result.output, report, report_dir


def _passed_staging_or_signing(report: dict[str, Any]) -> list[str]:
    return sorted(
        r["id"]
        for r in report["results"]
        if r["status"] == "PASSED" and r["id"] in STAGING_OR_SIGNING
    )


def test_the_catalogue_has_staging_and_signing_scenarios() -> None:
    """The set the tests below hold to is not empty (the happy paths are in it)."""
    assert {
        "stage-exchange-happy",
        "stage-exchange-bitcoin-message",
        "stage-broker-happy",
        "read-signing-payload",
    } <= STAGING_OR_SIGNING


def test_canned_answers_pass_no_staging_or_signing_scenario(tmp_path: Path) -> None:
    """Against a server that answers every operation with its 200 example, every scenario
    that stages or signs FAILS: they check that the answer echoes what was sent."""
    with canned_server() as url:
        code, _, report, _ = _conform(
            "--target",
            url,
            "--profile",
            str(_foreign_profile(tmp_path)),
            "--no-fuzz",
            "--report-dir",
            str(tmp_path / "reports"),
        )
    assert code == 1
    assert _passed_staging_or_signing(report) == []
    ran = {r["id"] for r in report["results"] if r["status"] != "SKIPPED"}
    assert {"stage-exchange-bitcoin-message", "stage-broker-happy", "read-signing-payload"} <= ran


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Any:
    server = start_server(tmp_path_factory.mktemp("refused"))
    yield server
    stop_server(server)


def test_a_wrong_sandbox_token_stops_the_run_with_one_line(
    reference: LiveServer, tmp_path: Path
) -> None:
    """A control plane answering 401 stops the run at once with one line naming the option
    to check; the reports are written, the scenarios not run are SKIPPED with that reason,
    and the fuzz pass is not attempted (it raised a TargetError: traceback, no report)."""
    code, output, report, _ = _conform(
        "--target",
        reference.base_url,
        "--sandbox-token",
        "not-" + ADMIN,
        "--report-dir",
        str(tmp_path / "reports"),
    )
    line = "the control plane answered 401: check --sandbox-token"
    assert code == 1
    assert f"stopped: {line}" in output
    assert "Traceback" not in output
    statuses = [r["status"] for r in report["results"]]
    assert statuses[0] == "FAILED" and report["results"][0]["reason"] == line
    assert set(statuses[1:]) == {"SKIPPED"}
    assert {r["reason"] for r in report["results"][1:]} == {f"not run: {line}"}
    assert report["results"][-1]["id"] == "fuzz"


def test_a_refusal_in_the_fuzz_pass_still_writes_the_reports(
    reference: LiveServer, tmp_path: Path
) -> None:
    """When only the fuzz pass meets the refusal (no scenario selected), the run still ends
    with its line and its reports instead of a traceback."""
    code, output, report, _ = _conform(
        "--target",
        reference.base_url,
        "--sandbox-token",
        "not-" + ADMIN,
        "--tag",
        "no-such-tag",
        "--fuzz",
        "--report-dir",
        str(tmp_path / "reports"),
    )
    assert code == 1
    assert "stopped: the control plane answered 401: check --sandbox-token" in output
    assert [(r["id"], r["status"]) for r in report["results"]] == [("fuzz", "FAILED")]


PRISM = prism_binary()


@pytest.mark.slow
@pytest.mark.skipif(PRISM is None, reason="Prism is not installed (.ci/run installs it with npm)")
def test_real_prism_passes_no_staging_or_signing_scenario(tmp_path: Path) -> None:
    """`prism mock openapi.yaml` with a profile: the reports are written and no scenario that
    stages or signs passes. With --sandbox-token and no profile, the run stops at once: Prism
    serves no control plane."""
    assert PRISM is not None
    with prism_server(PRISM, tmp_path / "prism.log") as url:
        code, _, report, _ = _conform(
            "--target",
            url,
            "--profile",
            str(_foreign_profile(tmp_path)),
            "--report-dir",
            str(tmp_path / "with-profile"),
        )
        assert code == 1
        assert _passed_staging_or_signing(report) == []
        assert any(r["id"].startswith("fuzz:") for r in report["results"])
        code, output, report, _ = _conform(
            "--target",
            url,
            "--sandbox-token",
            "anything",
            "--report-dir",
            str(tmp_path / "as-sandbox"),
        )
    assert code == 1
    assert "stopped: the control plane answered 404" in output
    assert report["results"][0]["status"] == "FAILED"
