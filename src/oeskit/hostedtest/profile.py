"""The hosted-test profile: the partner's BitGo id, the connection tokens of new empty accounts
(one per connection the run makes), the capabilities the partner declares (those of the
contract's x-oeskit-capabilities), and the currency the run moves. Loading and the token budget
only; no HTTP."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from oeskit.hostedtest import contract

#: The most connections (so tokens) one full run uses.
MAX_CONNECTIONS = 20
DEFAULT_CURRENCY = "BTC"
_UUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


class ProfileError(ValueError):
    """A profile file that cannot be used; the message names the field."""


@dataclass(frozen=True, slots=True)
class HostedProfile:
    partner_id: str | None = None
    connection_tokens: tuple[str, ...] = field(default=(), repr=False)
    capabilities: frozenset[str] = frozenset()
    currency: str = DEFAULT_CURRENCY

    def secrets(self) -> tuple[str, ...]:
        """Connection tokens are credentials: reports never show them."""
        return self.connection_tokens


def load_profile(path: str | Path) -> HostedProfile:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ProfileError(f"{path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: a profile is a mapping")
    return profile_from_dict(data, str(path))


def profile_from_dict(data: dict[str, Any], where: str = "profile") -> HostedProfile:
    known = {"partnerId", "connectionTokens", "capabilities", "currency"}
    extra = sorted(set(data) - known)
    if extra:
        raise ProfileError(f"{where}: unknown keys {extra}; known: {', '.join(sorted(known))}")
    partner_id = data.get("partnerId")
    if partner_id is not None and not (isinstance(partner_id, str) and _UUID.match(partner_id)):
        raise ProfileError(f"{where}: partnerId must be the partner's BitGo id (a UUID)")
    tokens = data.get("connectionTokens") or []
    if not isinstance(tokens, list) or not all(isinstance(t, str) and t for t in tokens):
        raise ProfileError(f"{where}: connectionTokens is a list of non-empty strings")
    if len(set(tokens)) != len(tokens):
        raise ProfileError(f"{where}: connectionTokens repeats a token (each is one account)")
    capabilities = data.get("capabilities") or []
    if not isinstance(capabilities, list):
        raise ProfileError(f"{where}: capabilities is a list")
    known_capabilities = contract.capabilities()
    unknown = sorted(set(map(str, capabilities)) - set(known_capabilities))
    if unknown:
        raise ProfileError(
            f"{where}: unknown capabilities {unknown}; known: {', '.join(known_capabilities)}"
        )
    currency = data.get("currency", DEFAULT_CURRENCY)
    if not isinstance(currency, str) or not currency:
        raise ProfileError(f"{where}: currency is a non-empty string")
    return HostedProfile(
        partner_id=partner_id,
        connection_tokens=tuple(tokens),
        capabilities=frozenset(map(str, capabilities)),
        currency=currency,
    )


class Tokens:
    """The run's budget of connection tokens: each connection takes one, none comes back."""

    def __init__(self, tokens: tuple[str, ...]) -> None:
        self._left = list(tokens)
        self.used = 0

    def take(self) -> str | None:
        if not self._left:
            return None
        self.used += 1
        return self._left.pop(0)
