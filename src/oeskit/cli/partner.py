"""`oeskit partner`: run oeskit's reference partner (the endpoints BitGo calls on an exchange).

`serve` opens (or creates) its SQLite file, mints new empty accounts with connection tokens,
prints them, optionally writes them as an `oeskit hosted-test` profile, and serves
`partner-hosted.yaml` with uvicorn. `accounts` mints more tokens into the same file while it
runs.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import click
import yaml

from oeskit.signing import bitgo_jwt

_PUBLIC_KEY = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group()
def partner() -> None:
    """oeskit's reference partner: the endpoints BitGo calls (partner-hosted.yaml)."""


def _uuid(_: click.Context, __: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a UUID") from None


@partner.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8090, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--db",
    default="partner.db",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite file of the partner (created if missing; kept across restarts).",
)
@click.option(
    "--bitgo-public-key",
    "public_key",
    required=True,
    type=_PUBLIC_KEY,
    help="PEM file with BitGo's RSA public key (`oeskit keys bitgo` makes a test pair).",
)
@click.option(
    "--partner-id",
    callback=_uuid,
    help="The partner's BitGo id (a UUID); default: the one kept in --db, else a new one.",
)
@click.option(
    "--accounts",
    "count",
    default=20,
    show_default=True,
    type=click.IntRange(0, 10_000),
    help="New empty accounts to create at start, each with a connection token.",
)
@click.option(
    "--profile-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write partnerId, the new connection tokens and the capabilities as a profile YAML "
    "for `oeskit hosted-test --profile`.",
)
@click.option(
    "--no-body-binding",
    is_flag=True,
    help="Do not check the token's method, path and bodySha256 claims (the profile then "
    "does not declare bodyBinding).",
)
@click.option(
    "--log-level",
    default="warning",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
def serve(
    host: str,
    port: int,
    db: Path,
    public_key: Path,
    partner_id: str | None,
    count: int,
    profile_out: Path | None,
    no_body_binding: bool,
    log_level: str,
) -> None:
    """Serve the reference partner's endpoints, with COUNT new accounts to connect."""
    import uvicorn

    from oeskit.hosted.app import PartnerConfig, create_app

    public_pem = _read_public_key(public_key)
    store, partner_id, tokens = _open(db, partner_id, count)
    config = PartnerConfig(partner_id, public_pem, body_binding=not no_body_binding)
    app = create_app(config, store)
    capabilities = ["release", *([] if no_body_binding else ["bodyBinding"])]
    if profile_out is not None:
        _write_profile(profile_out, partner_id, tokens, capabilities)
    click.echo(f"oeskit reference partner on http://{host}:{port}  (db {db})")
    click.echo(f"partnerId: {partner_id}")
    click.echo(f"capabilities: {', '.join(capabilities)}")
    click.echo(f"connection tokens of {len(tokens)} new empty account(s):")
    for token in tokens:
        click.echo(f"  {token}")
    if profile_out is not None:
        click.echo(f"profile written to {profile_out}")
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)


@partner.command()
@click.option(
    "--db",
    default="partner.db",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite file of the partner (a running `partner serve` may hold it).",
)
@click.option("--count", default=20, show_default=True, type=click.IntRange(1, 10_000))
@click.option(
    "--profile-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write partnerId, the new tokens and the capabilities as a profile YAML.",
)
@click.option("--no-body-binding", is_flag=True, help="Leave bodyBinding out of the profile.")
def accounts(db: Path, count: int, profile_out: Path | None, no_body_binding: bool) -> None:
    """Create COUNT new empty accounts and print their connection tokens."""
    _, partner_id, tokens = _open(db, None, count)
    if profile_out is not None:
        capabilities = ["release", *([] if no_body_binding else ["bodyBinding"])]
        _write_profile(profile_out, partner_id, tokens, capabilities)
    for token in tokens:
        click.echo(token)


def _read_public_key(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
        bitgo_jwt.load_public_pem(text)
    except (OSError, UnicodeDecodeError, bitgo_jwt.InvalidKeyPem) as exc:
        raise click.BadParameter(f"{path}: {exc}", param_hint="--bitgo-public-key") from None
    return text


def _open(db: Path, partner_id: str | None, count: int) -> tuple[Any, str, list[str]]:
    from oeskit.hosted.store import HostedStore

    store = HostedStore(db)
    kept = store.partner_id(partner_id)
    tokens = [account.connection_token for account in store.create_accounts(count)]
    return store, kept, tokens


def _write_profile(path: Path, partner_id: str, tokens: list[str], caps: list[str]) -> None:
    profile = {"partnerId": partner_id, "connectionTokens": tokens, "capabilities": caps}
    path.write_text(yaml.safe_dump(profile, sort_keys=False), encoding="utf-8")
