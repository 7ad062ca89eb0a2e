"""hosted-test against a partner implementation written apart from oeskit's reference (from the
issue's decisions alone): every scenario passes, within the time budget."""

from __future__ import annotations

import time
from pathlib import Path

from oeskit.signing import bitgo_jwt
from tests.hostedtest.partner_app import PartnerApp, PartnerConfig
from tests.hostedtest.support import PARTNER_ID, TOKENS, failed, hosted_test, write_profile
from tests.threaded import serve

BUDGET_S = 30


def partner(pair: bitgo_jwt.RsaKeyPair) -> PartnerApp:
    return PartnerApp(PartnerConfig(pair.public_pem, PARTNER_ID, set(TOKENS)))


def test_independent_partner_passes(
    bitgo_pair: bitgo_jwt.RsaKeyPair, bitgo_key: Path, tmp_path: Path
) -> None:
    """Every scenario passes against the independent implementation, nothing is skipped with
    both capabilities declared, and the full run takes at most 30 s."""
    profile = write_profile(tmp_path / "profile.yaml")
    with serve(partner(bitgo_pair).asgi()) as url:
        started = time.perf_counter()
        result, report = hosted_test(url, bitgo_key, tmp_path / "r", profile=profile)
        elapsed = time.perf_counter() - started
    print(f"\nhosted-test full run against the independent partner: {elapsed:.1f} s")
    assert failed(report) == {}
    assert report["summary"]["failed"] == 0
    assert [r["id"] for r in report["results"] if r["status"] == "SKIPPED"] == []
    assert result.exit_code == 0, result.output
    assert elapsed <= BUDGET_S
    # conform's report.json shape: the same keys, summary with `failed`, rules and results.
    assert list(report) == [
        "schemaVersion",
        "target",
        "startedAt",
        "durationSeconds",
        "seed",
        "summary",
        "rules",
        "results",
    ]
    assert set(report["summary"]) == {"passed", "failed", "warnings", "skipped"}
    assert {r["kind"] for r in report["results"]} == {"scenario", "responses"}
