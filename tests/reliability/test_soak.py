"""A 10-second soak of `oeskit serve --workers 2`: no 5xx, bounded memory, a clean doctor."""

from __future__ import annotations

import io
import json

import pytest
from soak.run import run

pytestmark = pytest.mark.slow


def test_ten_second_soak_has_no_breach() -> None:
    """16 connections of mixed load for 10 s: 0 server errors, RSS growth <= 20%, doctor ok."""
    out = io.StringIO()
    status = run(
        seconds=10, connections=16, workers=2, max_requests=50_000, max_rss_growth=0.20, out=out
    )
    report = json.loads(out.getvalue())
    assert status == 0, report
    assert report["breaches"] == [] and report["server_errors"] == 0
    assert report["requests"] > 200 and report["transport_errors"] == 0
    assert set(report["kinds"]) == {
        "stage",
        "replay",
        "get",
        "list",
        "disputes",
        "balances",
        "dispute",
        "clock",
    }
    assert report["doctor_exit"] == 0 and report["doctor"][0].startswith("ok: ")
    assert report["rss_kib"]["growth"] <= 0.20
