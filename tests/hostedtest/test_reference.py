"""hosted-test against oeskit's reference partner as a partner runs it: `oeskit keys bitgo`,
`oeskit partner serve --profile-out` in a process of its own, then `oeskit hosted-test`. Every
rule passes, within the 30 s budget."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from oeskit.cli import main
from oeskit.testing.server import start_partner
from tests.hostedtest.support import failed, hosted_test

BUDGET_S = 30


@pytest.fixture
def reference(tmp_path: Path) -> Iterator[tuple[str, Path, Path]]:
    """(base URL, BitGo's private key, profile) of a running `oeskit partner serve`."""
    keys = CliRunner().invoke(main, ["keys", "bitgo", "--out-dir", str(tmp_path)])
    assert keys.exit_code == 0, keys.output
    server, profile = start_partner(tmp_path, tmp_path / "bitgo-public.pem", accounts=20)
    try:
        yield server.base_url, tmp_path / "bitgo-private.pem", profile
    finally:
        server.stop(timeout=10)


def test_reference_partner_passes(reference: tuple[str, Path, Path], tmp_path: Path) -> None:
    """Every scenario passes against `oeskit partner serve`, nothing is skipped (its profile
    declares release and bodyBinding and brings 20 tokens), exit 0, in at most 30 s."""
    url, key, profile = reference
    assert set(yaml.safe_load(profile.read_text())["capabilities"]) == {"release", "bodyBinding"}
    started = time.perf_counter()
    result, report = hosted_test(url, key, tmp_path / "r", profile=profile)
    elapsed = time.perf_counter() - started
    print(f"\nhosted-test full run against oeskit partner serve: {elapsed:.1f} s")
    assert failed(report) == {}
    assert [r["id"] for r in report["results"] if r["status"] == "SKIPPED"] == []
    assert result.exit_code == 0, result.output
    assert {r["status"] for r in report["rules"]} == {"PASSED"}
    assert elapsed <= BUDGET_S
