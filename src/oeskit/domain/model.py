"""Value objects the rules work on: callers, partners, connections, transfers and money."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from oeskit.signing import SigningKey

READ_SCOPE = "settlement_network_read"
WRITE_SCOPE = "settlement_network_write"
PARTNER_ACCOUNT = None  # the partner's own Go Account as a transfer side (it has no connection)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the token's user and the scopes the token grants."""

    user_id: str
    scopes: frozenset[str]


@dataclass(frozen=True, slots=True)
class Enterprise:
    id: str
    oes_license: bool
    members: frozenset[str]


@dataclass(frozen=True, slots=True)
class Currency:
    code: str  # the partner's own code, the key in settlementAmounts
    bitgo: str  # the ofc... code used on transfers and balances
    decimals: int


@dataclass(frozen=True, slots=True)
class Partner:
    id: str
    enterprise_id: str
    name: str
    active: bool
    broker: bool
    dispute_window_minutes: int | None
    top_up_window_minutes: int | None
    amount_format: str  # baseUnits | fullUnits
    enforce_unique_nonce: bool
    trading_account_id: str
    currencies: tuple[Currency, ...]
    keys: tuple[SigningKey, ...]  # public halves only

    @property
    def disputes_enabled(self) -> bool:
        return self.dispute_window_minutes is not None

    def currency(self, code: str) -> Currency | None:
        for currency in self.currencies:
            if currency.code == code:
                return currency
        return None

    def currency_by_bitgo(self, bitgo: str) -> Currency | None:
        for currency in self.currencies:
            if currency.bitgo == bitgo:
                return currency
        return None


# Connection, Instruction and Balance are NamedTuples: a 50,000-transfer settlement makes one
# of each per row, and a tuple is built ~4x faster than a frozen dataclass.
class Connection(NamedTuple):
    id: str
    partner_id: str
    client_id: str
    network_account_id: str
    trading_account_id: str  # the client's Go Account
    active: bool


class Instruction(NamedTuple):
    """One leaf of settlementAmounts after mapping: `quantity` base units from source to dest.

    `source` is None for the partner's own account (exchange shape and dispute closures).
    """

    source: str | None
    destination: str
    currency: str  # BitGo code
    quantity: int
    dispute_closure_id: str | None = None
    transfer_id: str | None = None  # set for transfers that already exist (dispute closures)


class Balance(NamedTuple):
    available: int
    held: int
