"""CLI tests of `oeskit keys generate` and `oeskit sign` through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from oeskit import signing
from oeskit.cli.signing import keys, sign

REQUEST: dict[str, object] = {
    "externalId": "settlement-2025-06-01",
    "notes": "règlement",
    "settlementAmounts": {"09684b38-49ed-4cf6-a28e-c3a459494c69": {"BTC": "100", "ETH": "-200"}},
    "cutoffAt": "2025-06-01T00:00:00.000Z",
}
VECTOR_PRIVATE = "e68b594ba96c5e981762aabc69c9ab3febfc4c864041f81989ca2dea7809957b"
VECTOR_XPUB = (
    "xpub661MyMwAqRbcGtRJmteFcTesYvptJu3geRPCSUS9jPCgY5u5vDSt5Q5YL4Lhhs7xkFGXSgjAS8dkRmF9zNZMQGmt"
    "PFiV5x8vbeoNKJnTZhL"
)


@pytest.fixture
def runner() -> CliRunner:
    """A click test runner."""
    return CliRunner()


@pytest.fixture
def request_file(tmp_path: Path) -> Path:
    """A request JSON file without a nonce."""
    path = tmp_path / "request.json"
    path.write_text(json.dumps(REQUEST, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture
def ed_key() -> signing.SigningKey:
    """A fresh ed25519 key."""
    return signing.generate(signing.ED25519)


def write_world(tmp_path: Path, signing_keys: list[object]) -> Path:
    """Write a one-partner world with the given signingKeys and return its path."""
    world = {"partners": [{"id": "partner-1", "name": "Acme", "signingKeys": signing_keys}]}
    path = tmp_path / "world.yaml"
    path.write_text(yaml.safe_dump(world), encoding="utf-8")
    return path


def assert_signed(stdout: str, key: signing.SigningKey) -> dict[str, object]:
    """Parse the printed body and check it is verified by `key` and bound to its fields."""
    body = json.loads(stdout)
    payload, signature = str(body["payload"]), str(body["signature"])
    assert signing.verify(payload, signature, key)
    assert signing.payload_mismatches(signing.parse_payload(payload), body) == []
    assert isinstance(body, dict)
    return body


# --- keys generate -------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", signing.SCHEMES)
def test_generate_json_key_signs_and_verifies(runner: CliRunner, scheme: str) -> None:
    """`keys generate --json` prints a key that signs and verifies."""
    result = runner.invoke(keys, ["generate", "--scheme", scheme, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["scheme"] == scheme
    key = signing.SigningKey(scheme, data["publicKey"], data["privateKey"])
    assert signing.verify("hello", signing.sign_message("hello", key), key)


@pytest.mark.parametrize("scheme", signing.SCHEMES)
def test_generate_human_output_is_two_labelled_lines(runner: CliRunner, scheme: str) -> None:
    """Default output is `public: …` then `private: …`, and the private key derives the public."""
    result = runner.invoke(keys, ["generate", "--scheme", scheme])
    assert result.exit_code == 0, result.output
    public_line, private_line = result.stdout.splitlines()
    assert public_line.startswith("public: ") and private_line.startswith("private: ")
    derived = signing.key_from_private(scheme, private_line.removeprefix("private: "))
    assert derived.public_key == public_line.removeprefix("public: ")


def test_generate_warns_test_worlds_only_on_stderr(runner: CliRunner) -> None:
    """The test-worlds-only note goes to stderr, keeping stdout parseable."""
    result = runner.invoke(keys, ["generate", "--json"])
    assert "test worlds only" in result.stderr
    assert "test worlds only" not in result.stdout


def test_generate_defaults_to_ed25519(runner: CliRunner) -> None:
    """Without --scheme the key is ed25519."""
    result = runner.invoke(keys, ["generate", "--json"])
    assert json.loads(result.stdout)["scheme"] == signing.ED25519


# --- sign --key ----------------------------------------------------------------------------


def test_sign_with_key_file(
    runner: CliRunner, tmp_path: Path, request_file: Path, ed_key: signing.SigningKey
) -> None:
    """`sign --key` prints a one-line body with the fields, a payload and a valid signature."""
    key_file = tmp_path / "key.json"
    key_file.write_text(
        json.dumps(
            {
                "scheme": "ed25519",
                "publicKey": ed_key.public_key,
                "privateKey": ed_key.private_key,
            }
        )
    )
    result = runner.invoke(sign, ["--key", str(key_file), str(request_file)])
    assert result.exit_code == 0, result.output
    assert len(result.stdout.strip().splitlines()) == 1
    body = assert_signed(result.stdout, ed_key)
    assert {k: body[k] for k in REQUEST} == REQUEST


def test_sign_generates_a_32_byte_nonce(
    runner: CliRunner, tmp_path: Path, request_file: Path, ed_key: signing.SigningKey
) -> None:
    """Without a nonce in the request or --nonce, a random 32-byte hex nonce is signed."""
    key_file = tmp_path / "key.json"
    key_file.write_text(json.dumps({"scheme": "ed25519", "privateKey": ed_key.private_key}))
    result = runner.invoke(sign, ["--key", str(key_file), str(request_file)])
    nonce = json.loads(result.stdout)["nonce"]
    assert len(bytes.fromhex(nonce)) == 32


def test_sign_nonce_option_is_used(
    runner: CliRunner, tmp_path: Path, ed_key: signing.SigningKey
) -> None:
    """--nonce overrides the request's nonce and ends up in the signed payload."""
    key_file = tmp_path / "key.json"
    key_file.write_text(json.dumps({"scheme": "ed25519", "privateKey": ed_key.private_key}))
    request = tmp_path / "r.json"
    request.write_text(json.dumps({**REQUEST, "nonce": "old"}))
    result = runner.invoke(sign, ["--key", str(key_file), "--nonce", "1", str(request)])
    body = assert_signed(result.stdout, ed_key)
    assert body["nonce"] == "1"
    assert signing.parse_payload(str(body["payload"]))["nonce"] == "1"


def test_sign_reads_stdin_and_pretty_prints(
    runner: CliRunner, tmp_path: Path, ed_key: signing.SigningKey
) -> None:
    """`-` reads the request from stdin; --pretty indents the body."""
    key_file = tmp_path / "key.json"
    key_file.write_text(json.dumps({"scheme": "ed25519", "privateKey": ed_key.private_key}))
    result = runner.invoke(
        sign, ["--key", str(key_file), "--pretty", "-"], input=json.dumps(REQUEST)
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("{\n  ")
    assert_signed(result.stdout, ed_key)


def test_sign_with_vector_key_matches_registered_xpub(
    runner: CliRunner, tmp_path: Path, request_file: Path
) -> None:
    """A bitcoin-message key file with an xpub public key signs verifiably for that xpub."""
    key_file = tmp_path / "key.json"
    key_file.write_text(
        json.dumps(
            {
                "scheme": "bitcoin-message",
                "publicKey": VECTOR_XPUB,
                "privateKey": VECTOR_PRIVATE,
            }
        )
    )
    result = runner.invoke(sign, ["--key", str(key_file), str(request_file)])
    assert result.exit_code == 0, result.output
    assert_signed(result.stdout, signing.SigningKey(signing.BITCOIN_MESSAGE, VECTOR_XPUB))


def test_sign_rejects_mismatched_key_pair(
    runner: CliRunner, tmp_path: Path, request_file: Path, ed_key: signing.SigningKey
) -> None:
    """A key file whose private key does not match its public key is refused."""
    other = signing.generate(signing.ED25519)
    key_file = tmp_path / "key.json"
    key_file.write_text(
        json.dumps(
            {
                "scheme": "ed25519",
                "publicKey": other.public_key,
                "privateKey": ed_key.private_key,
            }
        )
    )
    result = runner.invoke(sign, ["--key", str(key_file), str(request_file)])
    assert result.exit_code != 0
    assert "does not match its public key" in result.output


def test_sign_key_file_without_private_key(
    runner: CliRunner, tmp_path: Path, request_file: Path, ed_key: signing.SigningKey
) -> None:
    """A key file without privateKey is named in the error."""
    key_file = tmp_path / "key.json"
    key_file.write_text(json.dumps({"scheme": "ed25519", "publicKey": ed_key.public_key}))
    result = runner.invoke(sign, ["--key", str(key_file), str(request_file)])
    assert result.exit_code != 0
    assert "has no privateKey" in result.output


def test_sign_request_missing_fields(
    runner: CliRunner, tmp_path: Path, ed_key: signing.SigningKey
) -> None:
    """A request without externalId or settlementAmounts is refused, naming both."""
    key_file = tmp_path / "key.json"
    key_file.write_text(json.dumps({"scheme": "ed25519", "privateKey": ed_key.private_key}))
    result = runner.invoke(sign, ["--key", str(key_file), "-"], input="{}")
    assert result.exit_code != 0
    assert "externalId" in result.output and "settlementAmounts" in result.output


def test_sign_needs_world_or_key(runner: CliRunner, request_file: Path) -> None:
    """Neither --world nor --key is a usage error."""
    result = runner.invoke(sign, [str(request_file)])
    assert result.exit_code == 2
    assert "--world" in result.output and "--key" in result.output


# --- sign --world --------------------------------------------------------------------------


def test_sign_with_world_uses_first_private_key(
    runner: CliRunner, tmp_path: Path, request_file: Path, ed_key: signing.SigningKey
) -> None:
    """With --world the partner's first signingKeys entry with a privateKey signs."""
    world = write_world(
        tmp_path,
        [
            VECTOR_XPUB,
            {"scheme": "ed25519", "publicKey": signing.generate("ed25519").public_key},
            {
                "scheme": "ed25519",
                "publicKey": ed_key.public_key,
                "privateKey": ed_key.private_key,
            },
        ],
    )
    result = runner.invoke(
        sign, ["--world", str(world), "--partner", "partner-1", str(request_file)]
    )
    assert result.exit_code == 0, result.output
    assert_signed(result.stdout, ed_key)


def test_sign_with_world_scheme_filter(
    runner: CliRunner, tmp_path: Path, request_file: Path, ed_key: signing.SigningKey
) -> None:
    """--scheme picks the partner's first private key of that scheme."""
    world = write_world(
        tmp_path,
        [
            {
                "scheme": "ed25519",
                "publicKey": ed_key.public_key,
                "privateKey": ed_key.private_key,
            },
            {
                "scheme": "bitcoin-message",
                "publicKey": VECTOR_XPUB,
                "privateKey": VECTOR_PRIVATE,
            },
        ],
    )
    args = [
        "--world",
        str(world),
        "--partner",
        "partner-1",
        "--scheme",
        "bitcoin-message",
    ]
    result = runner.invoke(sign, [*args, str(request_file)])
    assert result.exit_code == 0, result.output
    assert_signed(result.stdout, signing.SigningKey(signing.BITCOIN_MESSAGE, VECTOR_XPUB))


def test_sign_world_partner_without_private_key(
    runner: CliRunner, tmp_path: Path, request_file: Path
) -> None:
    """A partner whose keys are all public-only gets a clear error naming it and the world."""
    world = write_world(tmp_path, [VECTOR_XPUB, {"scheme": "ed25519", "publicKey": "ab" * 32}])
    result = runner.invoke(
        sign, ["--world", str(world), "--partner", "partner-1", str(request_file)]
    )
    assert result.exit_code != 0
    assert "partner partner-1 in world.yaml has no signing key with a privateKey" in result.output


def test_sign_world_unknown_partner(runner: CliRunner, tmp_path: Path, request_file: Path) -> None:
    """An unknown partner id is named in the error with the known ones."""
    world = write_world(tmp_path, [])
    result = runner.invoke(sign, ["--world", str(world), "--partner", "nobody", str(request_file)])
    assert result.exit_code != 0
    assert "partner nobody not found in world.yaml (partners: partner-1)" in result.output


def test_sign_world_needs_partner(runner: CliRunner, tmp_path: Path, request_file: Path) -> None:
    """--world without --partner is a usage error."""
    world = write_world(tmp_path, [])
    result = runner.invoke(sign, ["--world", str(world), str(request_file)])
    assert result.exit_code == 2
    assert "--partner" in result.output
