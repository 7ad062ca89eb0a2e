"""Every planted defect of the independent partner app makes hosted-test exit 1 with the rule
the defect breaks FAILED, its evidence recorded and the token redacted."""

from __future__ import annotations

from pathlib import Path

import pytest

from oeskit.signing import bitgo_jwt
from tests.hostedtest.partner_app import PartnerApp, PartnerConfig
from tests.hostedtest.partner_defects import DEFECTS
from tests.hostedtest.support import (
    PARTNER_ID,
    TOKENS,
    failed,
    hosted_test,
    rule_status,
    write_profile,
)
from tests.threaded import serve


@pytest.mark.parametrize(
    ("defect", "rule", "blamed"), DEFECTS, ids=[d[0].__name__ for d in DEFECTS]
)
def test_defect_is_named(
    defect: type[PartnerApp],
    rule: str,
    blamed: frozenset[str],
    bitgo_pair: bitgo_jwt.RsaKeyPair,
    bitgo_key: Path,
    tmp_path: Path,
) -> None:
    """hosted-test against the copy with this defect exits 1 and reports its rule FAILED (and
    no rule the defect does not break), each failure with the exchange as evidence."""
    profile = write_profile(tmp_path / "profile.yaml")
    app = defect(PartnerConfig(bitgo_pair.public_pem, PARTNER_ID, set(TOKENS)))
    with serve(app.asgi()) as url:
        result, report = hosted_test(url, bitgo_key, tmp_path / "r", profile=profile)
    assert rule_status(report)[rule] == "FAILED", failed(report)
    assert {k for k, v in rule_status(report).items() if v == "FAILED"} == blamed, failed(report)
    assert result.exit_code == 1
    for scenario in report["results"]:
        if scenario["status"] == "FAILED":
            assert all(f["exchange"] for f in scenario["findings"]), scenario["id"]
    assert bitgo_pair.private_pem not in (tmp_path / "r" / "report.json").read_text()
