"""The profile and what it does to a run: tokens run out (SKIPPED with the reason), undeclared
capabilities are SKIPPED never passed, a bad profile or key is a usage error (exit 2), and the
reports never show the JWT, the private key or a connection token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from oeskit.hostedtest.profile import ProfileError, profile_from_dict
from oeskit.signing import bitgo_jwt
from tests.hostedtest.partner_app import PartnerApp, PartnerConfig
from tests.hostedtest.support import PARTNER_ID, TOKENS, hosted_test, write_profile
from tests.threaded import serve

# A full run opens this many connections (README: "a full run opens 12").
FULL_RUN_TOKENS = 12


def _run(pair: bitgo_jwt.RsaKeyPair, key: Path, tmp_path: Path, **profile: Any) -> Any:
    tmp_path.mkdir(exist_ok=True)
    app = PartnerApp(PartnerConfig(pair.public_pem, PARTNER_ID, set(TOKENS)))
    with serve(app.asgi()) as url:
        return hosted_test(
            url, key, tmp_path / "r", profile=write_profile(tmp_path / "p.yaml", **profile)
        )


def test_a_full_run_needs_twelve_tokens(
    bitgo_pair: bitgo_jwt.RsaKeyPair, bitgo_key: Path, tmp_path: Path
) -> None:
    """With exactly 12 tokens nothing is skipped; with one fewer the last scenario needing a
    connection is SKIPPED, saying no token is left, and nothing fails."""
    _, report = _run(bitgo_pair, bitgo_key, tmp_path, tokens=TOKENS[:FULL_RUN_TOKENS])
    assert [r["id"] for r in report["results"] if r["status"] != "PASSED"] == []
    _, short = _run(bitgo_pair, bitgo_key, tmp_path / "short", tokens=TOKENS[: FULL_RUN_TOKENS - 1])
    skipped = {r["id"]: r["reason"] for r in short["results"] if r["status"] == "SKIPPED"}
    assert list(skipped) == ["deallocation-released"]
    assert "no connection token left" in skipped["deallocation-released"]
    assert short["summary"]["failed"] == 0


def test_undeclared_capabilities_skip_never_pass(
    bitgo_pair: bitgo_jwt.RsaKeyPair, bitgo_key: Path, tmp_path: Path
) -> None:
    """Without release and bodyBinding their rules are SKIPPED (not PASSED), with the reason."""
    result, report = _run(bitgo_pair, bitgo_key, tmp_path, capabilities=())
    rules = {r["id"]: r["status"] for r in report["rules"]}
    assert rules["PH-SIG-006"] == rules["PH-ALC-003"] == rules["PH-DEA-004"] == "SKIPPED"
    skipped = {r["id"]: r["reason"] for r in report["results"] if r["status"] == "SKIPPED"}
    assert "capability bodyBinding" in skipped["signature-bound-to-request"]
    assert "capability release" in skipped["allocation-released"]
    assert report["summary"]["failed"] == 0
    assert result.exit_code == 0


def test_without_tokens_or_partner_id(
    bitgo_pair: bitgo_jwt.RsaKeyPair, bitgo_key: Path, tmp_path: Path
) -> None:
    """With no partnerId and no tokens the signature and unknown-id scenarios still run; the
    rest are SKIPPED, each with a reason."""
    _, report = _run(bitgo_pair, bitgo_key, tmp_path, tokens=(), partner_id=None)
    status = {r["id"]: r["status"] for r in report["results"]}
    assert status["signature-missing"] == status["put-unknown-id"] == "PASSED"
    assert status["connection-created"] == status["allocation-racing"] == "SKIPPED"
    assert all(r["reason"] for r in report["results"] if r["status"] == "SKIPPED")
    assert report["summary"]["failed"] == 0


def test_reports_never_show_secrets(
    bitgo_pair: bitgo_jwt.RsaKeyPair, bitgo_key: Path, tmp_path: Path
) -> None:
    """A failed run's four reports carry the exchanges but no JWT, private key or token."""
    app = PartnerApp(PartnerConfig(bitgo_pair.public_pem, PARTNER_ID, set(TOKENS)))
    app.check_fresh = lambda jti: None  # type: ignore[method-assign]  # a failure to report
    with serve(app.asgi()) as url:
        result, report = hosted_test(
            url, bitgo_key, tmp_path / "r", profile=write_profile(tmp_path / "p.yaml")
        )
    assert result.exit_code == 1
    texts = [p.read_text() for p in (tmp_path / "r").iterdir()]
    assert len(texts) == 4
    key_line = bitgo_pair.private_pem.splitlines()[1]
    for text in texts:
        assert "eyJ" not in text  # a JWT's header
        assert key_line not in text
        assert not any(token in text for token in TOKENS)
    exchanges = [e for r in report["results"] for e in r["exchanges"]]
    assert exchanges
    assert all(
        e["request"]["headers"].get("x-bitgo-signature") in (None, "***redacted***")
        for e in exchanges
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"partnerId": "not-a-uuid"}, "partnerId"),
        ({"connectionTokens": "ct-1"}, "connectionTokens"),
        ({"connectionTokens": ["ct-1", "ct-1"]}, "repeats"),
        ({"capabilities": ["teleport"]}, "unknown capabilities"),
        ({"tokens": []}, "unknown keys"),
    ],
)
def test_bad_profiles_are_refused(data: dict[str, Any], message: str) -> None:
    """A profile that cannot be used says which field is wrong."""
    with pytest.raises(ProfileError, match=message):
        profile_from_dict(data)


def test_bad_profile_and_key_exit_2(bitgo_key: Path, tmp_path: Path) -> None:
    """A bad profile or a key that is not an RSA private key is a usage error (exit 2)."""
    from click.testing import CliRunner

    from oeskit.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"capabilities": ["teleport"]}))
    base = ["hosted-test", "--target", "http://127.0.0.1:9", "--report-dir", str(tmp_path / "r")]
    result = CliRunner().invoke(main, [*base, "--bitgo-key", str(bitgo_key), "--profile", str(bad)])
    assert result.exit_code == 2
    assert "teleport" in result.output
    public = tmp_path / "public.pem"
    public.write_text(bitgo_jwt.generate_key_pair().public_pem)
    result = CliRunner().invoke(main, [*base, "--bitgo-key", str(public)])
    assert result.exit_code == 2
    assert "--bitgo-key" in result.output


def test_a_jwt_echoed_in_a_body_is_redacted(bitgo_pair: bitgo_jwt.RsaKeyPair) -> None:
    """A partner that echoes the token in an error body does not leak it into a report."""
    from oeskit.reports.redact import MASK, Redactor

    token = bitgo_jwt.sign(bitgo_pair.private_pem, now=0, method="PUT", path="/x")
    text = Redactor().text(f'{{"error": "token {token} expired"}}')
    assert text == f'{{"error": "token {MASK} expired"}}'
    assert Redactor().headers({"X-BitGo-Signature": token}) == {"X-BitGo-Signature": MASK}
