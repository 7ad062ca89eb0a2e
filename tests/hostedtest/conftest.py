"""Fixtures of the hosted-test tests: BitGo's key pair (one per session: RSA generation is the
slow part), written as PEM files in a temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from oeskit.signing import bitgo_jwt


@pytest.fixture(scope="session")
def bitgo_pair() -> bitgo_jwt.RsaKeyPair:
    return bitgo_jwt.generate_key_pair()


@pytest.fixture(scope="session")
def bitgo_key(bitgo_pair: bitgo_jwt.RsaKeyPair, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bitgo") / "bitgo-private.pem"
    path.write_text(bitgo_pair.private_pem)
    return path
