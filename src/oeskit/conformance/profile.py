"""Target profiles: which roles (tokens, keys, enterprises, connections) map to which values on a
target, and which capabilities it declares. Loading and lookups only; no HTTP."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from oeskit import fixtures, signing

CAPABILITIES = (
    "sandbox",
    "worlds",
    "clock",
    "disputes",
    "balances",
    "faults",
    "outbox",
    "jobs",
    "busy-fault",
    "slow-client",
    # The target's sandbox can call a partner's hosted endpoints: `ids.partnerUrl` is their base
    # URL and `ids.connectionToken` a token of a new, empty account there (one run each).
    "partnerHosted",
    "storage-fault",
)


class ProfileError(ValueError):
    """A profile file that cannot be used; the message names the field."""


@dataclass(frozen=True, slots=True)
class Profile:
    base_url: str | None = None
    sandbox_token: str | None = None
    capabilities: frozenset[str] = frozenset()
    enterprises: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    keys: dict[str, signing.SigningKey] = field(default_factory=dict)
    connections: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)

    def secrets(self) -> tuple[str, ...]:
        """Every value a report must never show."""
        values = list(self.tokens.values())
        values += [k.private_key for k in self.keys.values() if k.private_key]
        if self.sandbox_token:
            values.append(self.sandbox_token)
        return tuple(v for v in values if v)

    def variables(self) -> dict[str, Any]:
        """The `{name}` variables scenarios may use: ent.X, conn.X, id.X."""
        out: dict[str, Any] = {}
        out.update({f"ent.{k}": v for k, v in self.enterprises.items()})
        out.update({f"conn.{k}": v for k, v in self.connections.items()})
        out.update({f"id.{k}": v for k, v in self.ids.items()})
        return out


def fixtures_dir() -> Path:
    return fixtures.root()


def load_profile(path: str | Path) -> Profile:
    path = fixtures.shipped(path)  # `fixtures/profiles/x.yaml` works outside the checkout too
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ProfileError(f"{path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: a profile is a mapping")
    return profile_from_dict(data, str(path))


def profile_from_dict(data: dict[str, Any], where: str = "profile") -> Profile:
    keys: dict[str, signing.SigningKey] = {}
    for name, entry in (data.get("keys") or {}).items():
        if not isinstance(entry, dict) or "privateKey" not in entry:
            raise ProfileError(f"{where}: keys.{name} needs privateKey (and scheme)")
        try:
            keys[str(name)] = signing.key_from_private(
                str(entry.get("scheme", signing.ED25519)), str(entry["privateKey"])
            )
        except (signing.InvalidKey, ValueError) as exc:
            raise ProfileError(f"{where}: keys.{name}: {exc}") from exc
    unknown = set(data.get("capabilities") or ()) - set(CAPABILITIES)
    if unknown:
        raise ProfileError(
            f"{where}: unknown capabilities {sorted(unknown)}; known: {', '.join(CAPABILITIES)}"
        )

    def names(key: str) -> dict[str, str]:
        value = data.get(key) or {}
        if not isinstance(value, dict):
            raise ProfileError(f"{where}: {key} is a mapping of role to value")
        return {str(k): str(v) for k, v in value.items()}

    return Profile(
        base_url=data.get("baseUrl"),
        sandbox_token=data.get("sandboxToken"),
        capabilities=frozenset(data.get("capabilities") or ()),
        enterprises=names("enterprises"),
        tokens=names("tokens"),
        keys=keys,
        connections=names("connections"),
        ids=names("ids"),
    )


def sandbox_profile(sandbox_token: str) -> Profile:
    """The profile of an oeskit sandbox seeded with the demo world (fixtures/profiles/demo.yaml)."""
    return replace(load_profile(fixtures.profile_path("demo")), sandbox_token=sandbox_token)
