"""Funding from outside a settlement: a client's allocation top-up or a partner's deposit.

The sandbox stands in for the allocation and deposit flows the public API has elsewhere.
"""

from __future__ import annotations

from oeskit.domain.model import Balance
from oeskit.domain.ports import Store
from oeskit.domain.sandbox_rules import SBX_NOT_FOUND, SBX_STATE
from oeskit.errors import RuleViolation


def adjust(
    store: Store,
    currency: str,
    amount: int,
    *,
    connection_id: str | None = None,
    partner_id: str | None = None,
) -> Balance:
    """Add `amount` (signed base units) to the available balance; never below zero."""
    with store.immediate():
        if connection_id:
            if store.connection_partner(connection_id) is None:
                raise RuleViolation(SBX_NOT_FOUND, f"connection {connection_id} does not exist")
            current = store.balances([(connection_id, currency)]).get(
                (connection_id, currency), Balance(0, 0)
            )
            _not_negative(current.available + amount, currency)
            store.move_balance(connection_id, currency, available=amount, held=0)
            return Balance(current.available + amount, current.held)
        if partner_id and store.partner(partner_id) is not None:
            available = store.partner_balance(partner_id, currency) + amount
            _not_negative(available, currency)
            store.move_partner_balance(partner_id, currency, amount)
            return Balance(available, 0)
        raise RuleViolation(SBX_NOT_FOUND, "name an existing connectionId or partnerId")


def _not_negative(available: int, currency: str) -> None:
    if available < 0:
        raise RuleViolation(
            SBX_STATE,
            f"the adjustment would leave {currency} available at "
            f"{available}; balances cannot go below zero",
        )
