"""The bitcoin-message docs say what the server does: the 65-byte layout with its header byte
(27 + 4 + recovery id), that low S is not required, and the test vector. The facts are checked
against the server's verifier (and a staging through the API), then found in the README and the
built signing guide."""

from __future__ import annotations

from pathlib import Path

import pytest

from oeskit import signing
from oeskit.publish.signing_guide import bitcoin_message_vector
from oeskit.publish.website import build
from tests.conftest import EXCHANGE, Sandbox

README = Path(__file__).resolve().parents[2] / "README.md"
ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _high_s(signature: str) -> str:
    raw = bytes.fromhex(signature)
    recovery_id = raw[0] - 31
    s = int.from_bytes(raw[33:], "big")
    return (bytes([31 + (recovery_id ^ 1)]) + raw[1:33] + (ORDER - s).to_bytes(32, "big")).hex()


def test_the_vector_is_what_the_server_verifies() -> None:
    """The vector verifies; its header 0x20 is 27 + 4 + recovery id 1; its high-S twin
    verifies; the same r, s under an uncompressed header (27 + id) does not."""
    vector = bitcoin_message_vector()
    assert vector.verified and vector.low_s
    assert (vector.header, vector.recovery_id) == (0x20, 1)
    assert vector.high_s_verified
    assert not vector.uncompressed_header_verified


@pytest.mark.anyio
async def test_a_high_s_signature_stages(sandbox: Sandbox) -> None:
    """Through the API: a bitcoin-message body signed with low S, rewritten to its high-S twin,
    is staged (200); the low-S original of another body too."""
    body = sandbox.sign(sandbox.fields(), EXCHANGE, signing.BITCOIN_MESSAGE)
    assert int.from_bytes(bytes.fromhex(body["signature"])[33:], "big") <= ORDER // 2
    twin = {**body, "signature": _high_s(body["signature"])}
    staged = await sandbox.stage(twin)
    assert staged.status_code == 200, staged.text
    other = await sandbox.stage(sandbox.sign(sandbox.fields(), EXCHANGE, signing.BITCOIN_MESSAGE))
    assert other.status_code == 200, other.text


@pytest.mark.parametrize("where", ["README", "signing guide"])
def test_the_docs_state_the_header_low_s_and_the_vector(where: str, tmp_path: Path) -> None:
    """The README and the built signing guide give the header byte rule, say low S is not
    required, and show the vector's key, hash and signature."""
    if where == "README":
        text = " ".join(README.read_text().split())
    else:
        build(out=tmp_path / "site")
        text = " ".join((tmp_path / "site" / "signing.html").read_text().split())
        text = text.replace("<strong>", "**").replace("</strong>", "**")
    vector = bitcoin_message_vector()
    assert "**27 + 4 + recovery id**" in text
    assert "**Low S is not required**" in text
    for fact in (vector.public_key, vector.magic_hash, vector.signature, "27 + 4 + recovery id 1"):
        assert fact in text, fact
