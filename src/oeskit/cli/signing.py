"""`oeskit keys generate`, `oeskit keys bitgo` and `oeskit sign`: make test keys and sign bodies.

A thin shell over `oeskit.signing`: it reads the request, world or key files and prints JSON.
The lead's `oeskit.cli` registers `keys` and `sign`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO

import click
import yaml

from oeskit import signing
from oeskit.cli.world import WORLD

_REQUIRED_REQUEST_FIELDS = ("externalId", "settlementAmounts")


@click.group()
def keys() -> None:
    """Create signing keys for test worlds."""


@keys.command()
@click.option(
    "--scheme",
    type=click.Choice(signing.SCHEMES),
    default=signing.ED25519,
    show_default=True,
    help="Signature scheme of the new key pair.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of lines.")
def generate(scheme: str, as_json: bool) -> None:
    """Generate a key pair and print its public and private key.

    Private keys printed here belong in test worlds only, never with real funds.
    """
    key = signing.generate(scheme)
    if as_json:
        click.echo(json.dumps(_key_json(key)))
    else:
        click.echo(f"public: {key.public_key}")
        click.echo(f"private: {key.private_key}")
    # On stderr so stdout stays machine-readable.
    click.echo(f"note: {scheme} private key for test worlds only; do not reuse it.", err=True)


@keys.command()
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(),
    show_default=True,
    help="Folder for bitgo-private.pem and bitgo-public.pem (created if missing).",
)
@click.option("--force", is_flag=True, help="Overwrite the two files if they exist.")
def bitgo(out_dir: Path, force: bool) -> None:
    """Make an RSA 2048 key pair (PEM) that plays BitGo's X-BitGo-Signature key.

    `oeskit hosted-test --bitgo-key` signs with the private half; the partner's endpoints (and
    `oeskit partner serve --bitgo-public-key`) verify with the public half.
    """
    from oeskit.signing import bitgo_jwt

    private_path, public_path = out_dir / "bitgo-private.pem", out_dir / "bitgo-public.pem"
    existing = [str(p) for p in (private_path, public_path) if p.exists()]
    if existing and not force:
        raise click.ClickException(
            f"already there: {', '.join(existing)}; pass --force to overwrite"
        )
    pair = bitgo_jwt.generate_key_pair()
    out_dir.mkdir(parents=True, exist_ok=True)
    private_path.write_text(pair.private_pem, encoding="utf-8")
    private_path.chmod(0o600)
    public_path.write_text(pair.public_pem, encoding="utf-8")
    click.echo(f"private: {private_path}")
    click.echo(f"public: {public_path}")
    click.echo("note: an RSA test key pair; BitGo gives partners its real public key.", err=True)


@click.command()
@click.option(
    "--world",
    "world_path",
    type=WORLD,
    metavar="NAME|FILE",
    help="World (a packaged name such as demo, or a YAML file) whose partner holds the signing "
    "key (use with --partner).",
)
@click.option("--partner", "partner_id", help="Partner id in the world file.")
@click.option(
    "--scheme",
    type=click.Choice(signing.SCHEMES),
    help="Use the partner's first key of this scheme (default: its first key with a privateKey).",
)
@click.option(
    "--key",
    "key_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Key JSON file as printed by `oeskit keys generate --json`.",
)
@click.option("--nonce", help="Nonce to sign (overrides the request's; default: 32 random bytes).")
@click.option("--pretty", is_flag=True, help="Indent the printed body.")
@click.argument("request", type=click.File("r", encoding="utf-8"), metavar="REQUEST_JSON")
def sign(
    world_path: Path | None,
    partner_id: str | None,
    scheme: str | None,
    key_path: Path | None,
    nonce: str | None,
    pretty: bool,
    request: IO[str],
) -> None:
    """Sign REQUEST_JSON ('-' for stdin) and print the complete request body.

    The request holds externalId, notes?, settlementAmounts, cutoffAt? and nonce?; the output
    adds the canonical `payload` and its `signature`, ready to POST.
    """
    key = _choose_key(world_path, partner_id, scheme, key_path)
    fields = _read_request(request)
    if nonce is not None:
        fields["nonce"] = nonce
    elif "nonce" not in fields:
        fields["nonce"] = signing.new_nonce()
    body = signing.sign_body(fields, key)
    # A key file or world may pair a private key with someone else's public key; catch it here
    # rather than as a 400 from the server.
    try:
        verified = signing.verify(str(body["payload"]), str(body["signature"]), key)
    except signing.InvalidKey as exc:
        raise click.ClickException(f"the key's public key is unusable: {exc}") from exc
    if not verified:
        raise click.ClickException(
            "the private key does not match its public key "
            f"{key.public_key}; the signature would not verify"
        )
    click.echo(json.dumps(body, ensure_ascii=False, indent=2 if pretty else None))


def _choose_key(
    world_path: Path | None,
    partner_id: str | None,
    scheme: str | None,
    key_path: Path | None,
) -> signing.SigningKey:
    if (world_path is None) == (key_path is None):
        raise click.UsageError("give exactly one of --world (with --partner) or --key")
    if key_path is not None:
        if partner_id is not None:
            raise click.UsageError("--partner only applies with --world")
        key = _key_from_file(key_path)
        if scheme is not None and key.scheme != scheme:
            raise click.UsageError(f"key file {key_path} holds a {key.scheme} key, not {scheme}")
        return key
    assert world_path is not None
    if partner_id is None:
        raise click.UsageError("--world needs --partner ID")
    return _key_from_world(world_path, partner_id, scheme)


def _key_from_file(path: Path) -> signing.SigningKey:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.ClickException(f"cannot read key file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise click.ClickException(f"key file {path} is not a JSON object")
    return _key_from_entry(data, f"key file {path}", default_scheme=None)


def _key_from_world(path: Path, partner_id: str, scheme: str | None) -> signing.SigningKey:
    try:
        world = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise click.ClickException(f"cannot read world file {path}: {exc}") from exc
    partners = world.get("partners") if isinstance(world, dict) else None
    if not isinstance(partners, list):
        raise click.ClickException(f"{path.name} has no partners list")
    partner = next(
        (p for p in partners if isinstance(p, dict) and str(p.get("id")) == partner_id),
        None,
    )
    if partner is None:
        known = ", ".join(str(p.get("id")) for p in partners if isinstance(p, dict))
        raise click.ClickException(
            f"partner {partner_id} not found in {path.name} (partners: {known or 'none'})"
        )
    entries = partner.get("signingKeys") or []
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        # A bare string is a registered public key (xpub or hex) with nothing to sign with.
        if not isinstance(entry, dict) or not entry.get("privateKey"):
            continue
        where = f"signingKeys[{index}] of partner {partner_id} in {path.name}"
        key = _key_from_entry(entry, where, default_scheme=signing.ED25519)
        if scheme is None or key.scheme == scheme:
            return key
    of_scheme = f" of scheme {scheme}" if scheme else ""
    raise click.ClickException(
        f"partner {partner_id} in {path.name} has no signing key{of_scheme} with a privateKey"
    )


def _key_from_entry(
    entry: dict[str, object], where: str, default_scheme: str | None
) -> signing.SigningKey:
    scheme = entry.get("scheme", default_scheme)
    private = entry.get("privateKey")
    if not isinstance(scheme, str):
        raise click.ClickException(f"{where} has no scheme")
    if not isinstance(private, str) or not private:
        raise click.ClickException(f"{where} has no privateKey")
    try:
        derived = signing.key_from_private(scheme, private)
    except signing.InvalidKey as exc:
        raise click.ClickException(f"{where}: {exc}") from exc
    public = entry.get("publicKey")
    if public is None:
        return derived
    if not isinstance(public, str):
        raise click.ClickException(f"{where}: publicKey is not a string")
    # Keep the registered form (it may be an xpub) so verification checks the pairing.
    return signing.SigningKey(scheme=scheme, public_key=public, private_key=derived.private_key)


def _read_request(request: IO[str]) -> dict[str, object]:
    try:
        fields = json.load(request)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"request is not valid JSON: {exc}") from exc
    if not isinstance(fields, dict):
        raise click.ClickException("request must be a JSON object")
    missing = [name for name in _REQUIRED_REQUEST_FIELDS if name not in fields]
    if missing:
        raise click.ClickException(f"request is missing {', '.join(missing)}")
    return fields


def _key_json(key: signing.SigningKey) -> dict[str, str | None]:
    return {
        "scheme": key.scheme,
        "publicKey": key.public_key,
        "privateKey": key.private_key,
    }
