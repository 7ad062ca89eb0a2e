"""`oeskit keys bitgo` (BitGo's RSA test pair as PEM files) and `oeskit partner accounts` /
`partner serve`'s refusals, through click's CliRunner."""

from __future__ import annotations

import stat
import time
import uuid
from pathlib import Path

import yaml
from click.testing import CliRunner

from oeskit.cli import main
from oeskit.hosted.store import HostedStore
from oeskit.signing import bitgo_jwt


def test_keys_bitgo_writes_an_rsa_pair_that_signs_and_verifies(tmp_path: Path) -> None:
    """Two PEM files: a private key readable by its owner only, and its public half; a token
    signed with one verifies with the other."""
    result = CliRunner().invoke(main, ["keys", "bitgo", "--out-dir", str(tmp_path / "k")])
    assert result.exit_code == 0, result.output
    private, public = tmp_path / "k" / "bitgo-private.pem", tmp_path / "k" / "bitgo-public.pem"
    assert f"private: {private}" in result.output and f"public: {public}" in result.output
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    pair = bitgo_jwt.key_pair_from_private_pem(private.read_text())
    assert pair.public_pem == public.read_text()
    assert bitgo_jwt.load_public_pem(public.read_text()).key_size == 2048
    now = int(time.time())
    token = bitgo_jwt.sign(private.read_text(), now=now, method="PUT", path="/x")
    assert bitgo_jwt.verify(public.read_text(), token, now=now)["method"] == "PUT"


def test_keys_bitgo_keeps_existing_files_unless_forced(tmp_path: Path) -> None:
    """A second run refuses to overwrite (exit 1, naming the files); --force makes a new pair."""
    runner = CliRunner()
    assert runner.invoke(main, ["keys", "bitgo", "--out-dir", str(tmp_path)]).exit_code == 0
    before = (tmp_path / "bitgo-private.pem").read_text()
    again = runner.invoke(main, ["keys", "bitgo", "--out-dir", str(tmp_path)])
    assert again.exit_code == 1
    assert "already there" in again.output and "pass --force" in again.output
    assert (tmp_path / "bitgo-private.pem").read_text() == before
    forced = runner.invoke(main, ["keys", "bitgo", "--out-dir", str(tmp_path), "--force"])
    assert forced.exit_code == 0
    assert (tmp_path / "bitgo-private.pem").read_text() != before


def test_partner_accounts_mints_tokens_and_a_profile(tmp_path: Path) -> None:
    """`partner accounts` prints COUNT new tokens, stored in --db, and writes them as a
    profile with the kept partnerId and both capabilities."""
    db, profile = tmp_path / "p.db", tmp_path / "profile.yaml"
    partner_id = HostedStore(db).partner_id(str(uuid.uuid4()))
    result = CliRunner().invoke(
        main,
        ["partner", "accounts", "--db", str(db), "--count", "3", "--profile-out", str(profile)],
    )
    assert result.exit_code == 0, result.output
    tokens = result.output.split()
    assert len(tokens) == 3 and all(t.startswith("ct-") for t in tokens)
    assert yaml.safe_load(profile.read_text()) == {
        "partnerId": partner_id,
        "connectionTokens": tokens,
        "capabilities": ["release", "bodyBinding"],
    }
    with HostedStore(db).transaction() as book:
        assert {a.connection_token for a in book.accounts()} == set(tokens)


def test_partner_serve_refuses_a_key_that_is_not_rsa_pem(tmp_path: Path) -> None:
    """--bitgo-public-key must be an RSA public key in PEM: exit 2 naming the file."""
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    result = CliRunner().invoke(
        main, ["partner", "serve", "--db", str(tmp_path / "p.db"), "--bitgo-public-key", str(bad)]
    )
    assert result.exit_code == 2
    assert "not a PEM public key" in result.output


def test_partner_serve_refuses_a_partner_id_that_is_not_a_uuid(tmp_path: Path) -> None:
    """--partner-id must be a UUID: exit 2."""
    public = tmp_path / "pub.pem"
    public.write_text(bitgo_jwt.generate_key_pair().public_pem)
    result = CliRunner().invoke(
        main,
        ["partner", "serve", "--bitgo-public-key", str(public), "--partner-id", "exchange-1"],
    )
    assert result.exit_code == 2
    assert "'exchange-1' is not a UUID" in result.output
