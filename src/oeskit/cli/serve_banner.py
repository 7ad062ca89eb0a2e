"""What `oeskit serve` says at start: the banner (URLs, the admin token, the demo partner's
credentials and a signed request ready to paste), or, with `--log-format json`, one start-up
record without tokens or keys."""

from __future__ import annotations

import logging
import shlex
import time
from typing import Any

import click
import orjson

from oeskit import logs, signing
from oeskit.settings import Settings
from oeskit.store.locator import is_postgres_url


def demo_request(world: dict[str, Any], base_url: str) -> dict[str, str] | None:
    """A signed staging request for the world's first usable partner, as a curl line."""
    for partner in world.get("partners", []):
        if not partner.get("active", True) or partner.get("clientDisputeWindowMinutes") is None:
            continue
        key = next(
            (
                k
                for k in partner.get("signingKeys", [])
                if isinstance(k, dict)
                and k.get("privateKey")
                and k.get("scheme", "ed25519") == "ed25519"
            ),
            None,
        )
        token = _token_for(world, partner["enterpriseId"])
        connections = [c for c in world.get("connections", []) if c["partnerId"] == partner["id"]]
        if key is None or token is None or not connections:
            continue
        codes = {c["bitgoCurrency"]: c for c in partner.get("currencies", [])}
        amounts: dict[str, dict[str, str]] = {}
        for conn in connections[:2]:
            for bitgo in conn.get("balances") or {}:
                if bitgo in codes:
                    unit = "1" if partner.get("amountFormat", "baseUnits") == "baseUnits" else "0.1"
                    amounts[conn["id"]] = {codes[bitgo]["code"]: "-" + unit}
                    break
        fields = {
            "externalId": f"demo-{int(time.time())}",
            "notes": "my first settlement",
            "settlementAmounts": amounts,
            "nonce": signing.new_nonce(),
            "cutoffAt": "2026-11-01T00:00:00.000Z",
        }
        signing_key = signing.SigningKey("ed25519", key["publicKey"], key["privateKey"])
        path = f"/api/network/v2/enterprises/{partner['enterpriseId']}/partners/settlements"
        changed = {**fields, "notes": "changed notes", "nonce": signing.new_nonce()}
        return {
            "partner": partner["id"],
            "enterprise": partner["enterpriseId"],
            "token": token,
            "publicKey": key["publicKey"],
            "privateKey": key["privateKey"],
            "curl": _curl(base_url + path, token, fields, signing_key),
            "conflict": _curl(base_url + path, token, changed, signing_key),
        }
    return None


def _curl(url: str, token: str, fields: dict[str, Any], key: signing.SigningKey) -> str:
    body = orjson.dumps(signing.sign_body(fields, key)).decode()
    return (
        f"curl -sS -X POST {url} -H 'Authorization: Bearer {token}' "
        f"-H 'Content-Type: application/json' -d {shlex.quote(body)}"
    )


def _token_for(world: dict[str, Any], enterprise_id: str) -> str | None:
    members = {u["id"] for u in world.get("users", []) if enterprise_id in u.get("enterprises", [])}
    for token in world.get("tokens", []):
        scopes = set(token.get("scopes", []))
        if (
            token["user"] in members
            and {"settlement_network_read", "settlement_network_write"} <= scopes
        ):
            return str(token["token"])
    return None


def start_record(base_url: str, settings: Settings) -> None:
    """The banner's facts as one log record, without the tokens and keys the text one prints."""
    logging.getLogger("oeskit").info(
        "oeskit sandbox on %s (db %s, %d worker(s), clock %s, control plane %s)",
        base_url,
        logs.redact_url(settings.db),
        settings.workers,
        settings.clock,
        "on" if settings.admin_token else "off",
    )


def _shown(db: str) -> str:
    """`db` as the banner shows it (a PostgreSQL URL without its password)."""
    if not is_postgres_url(db):
        return db
    from oeskit.store.postgres import shown

    return shown(db)


def banner(base_url: str, settings: Settings, world: dict[str, Any] | None) -> None:
    echo = click.echo
    echo(
        f"oeskit sandbox on {base_url}  (db {_shown(settings.db)}, {settings.workers} worker(s), "
        f"clock {settings.clock})"
    )
    if settings.admin_token:
        echo(f"control plane: {base_url}/sandbox/  admin token: {settings.admin_token}")
    else:
        echo("control plane: off (not on loopback and no --admin-token)")
    if settings.max_namespaces:
        echo(
            f"namespaces: {base_url}/ns/<name>/ is a sandbox of its own "
            f"(up to {settings.max_namespaces}, created on first use)"
        )
    demo = demo_request(world, base_url) if world else None
    if demo:
        echo(f"demo partner {demo['partner']} (enterprise {demo['enterprise']})")
        echo(f"  access token:        {demo['token']}")
        echo(f"  ed25519 public key:  {demo['publicKey']}")
        echo(f"  ed25519 private key: {demo['privateKey']}  (test key, demo world only)")
        echo("a signed request, ready to paste (send it twice: 200 with the same id both times):")
        echo("  " + demo["curl"])
        echo("the same externalId with other notes, also signed (answers 409):")
        echo("  " + demo["conflict"])
