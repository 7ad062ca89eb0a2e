"""hosted-test proves itself on oeskit's reference partner: the copy as it is passes, and each
copy with the defect of one rule planted (reference_defects.py) fails naming that rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from oeskit.hostedtest import contract
from oeskit.signing import bitgo_jwt
from tests.hostedtest.reference_defects import ALSO_BLAMED, DEFECTS, reference_app
from tests.hostedtest.support import failed, hosted_test, rule_status, write_profile
from tests.threaded import serve


def test_one_defect_per_rule() -> None:
    """Every rule of the catalogue has its defect-injected copy."""
    assert set(DEFECTS) == contract.rule_ids()


def test_wrapper_without_defect_passes(
    bitgo_pair: bitgo_jwt.RsaKeyPair, bitgo_key: Path, tmp_path: Path
) -> None:
    """The defect wrapper itself changes nothing: the reference through it passes."""
    app, tokens = reference_app(tmp_path, bitgo_pair)
    with serve(app) as url:
        result, report = hosted_test(
            url,
            bitgo_key,
            tmp_path / "r",
            profile=write_profile(tmp_path / "p.yaml", tokens=tokens),
        )
    assert failed(report) == {}
    assert result.exit_code == 0


@pytest.mark.parametrize("rule", sorted(DEFECTS))
def test_reference_defect_is_named(
    rule: str, bitgo_pair: bitgo_jwt.RsaKeyPair, bitgo_key: Path, tmp_path: Path
) -> None:
    """hosted-test against the reference with this rule's defect exits 1, the rule FAILED, and
    no rule the defect does not break."""
    app, tokens = reference_app(tmp_path, bitgo_pair, rule)
    with serve(app) as url:
        result, report = hosted_test(
            url,
            bitgo_key,
            tmp_path / "r",
            profile=write_profile(tmp_path / "p.yaml", tokens=tokens),
        )
    assert rule_status(report)[rule] == "FAILED", failed(report)
    blamed = {k for k, v in rule_status(report).items() if v == "FAILED"}
    assert blamed - {rule} <= ALSO_BLAMED.get(rule, frozenset()), failed(report)
    assert result.exit_code == 1
