"""Funding against the Store port (no HTTP): allocations to connections and partner deposits,
never below zero."""

from __future__ import annotations

import pytest

from oeskit.domain import funding
from oeskit.domain.model import Balance
from oeskit.domain.sandbox_rules import SBX_NOT_FOUND, SBX_STATE
from oeskit.errors import RuleViolation
from tests.unit.domain_support import ALPHA, ALPHA_BTC, EXCHANGE, demo_store

# Every test runs on both stores.
pytestmark = pytest.mark.usefixtures("domain_stores")


def test_allocation_adds_to_a_connection_available_balance() -> None:
    """A signed amount moves the connection's available balance and the answer shows it."""
    store = demo_store()
    assert funding.adjust(store, "ofcbtc", 25, connection_id=ALPHA) == Balance(ALPHA_BTC + 25, 0)
    assert store.balances([(ALPHA, "ofcbtc")])[(ALPHA, "ofcbtc")] == Balance(ALPHA_BTC + 25, 0)


def test_allocation_of_a_new_currency_starts_from_zero() -> None:
    """A currency the connection never held is created by the allocation."""
    store = demo_store()
    assert funding.adjust(store, "ofcsol", 7, connection_id=ALPHA) == Balance(7, 0)


def test_partner_deposit_adds_to_its_own_account() -> None:
    """A partner's deposit moves its Go Account balance."""
    store = demo_store()
    before = store.partner_balance(EXCHANGE, "ofcbtc")
    assert funding.adjust(store, "ofcbtc", -5, partner_id=EXCHANGE) == Balance(before - 5, 0)
    assert store.partner_balance(EXCHANGE, "ofcbtc") == before - 5


def test_a_balance_never_goes_below_zero() -> None:
    """Withdrawing more than is available is OES-SBX-004 and changes nothing."""
    store = demo_store()
    with pytest.raises(RuleViolation) as caught:
        funding.adjust(store, "ofcbtc", -(ALPHA_BTC + 1), connection_id=ALPHA)
    assert caught.value.rule == SBX_STATE and "-1" in caught.value.message
    assert store.balances([(ALPHA, "ofcbtc")])[(ALPHA, "ofcbtc")] == Balance(ALPHA_BTC, 0)


@pytest.mark.parametrize(
    "target",
    [
        pytest.param({"connection_id": "no-such-connection"}, id="connection"),
        pytest.param({"partner_id": "no-such-partner"}, id="partner"),
        pytest.param({}, id="neither"),
    ],
)
def test_unknown_targets_are_not_found(target: dict[str, str]) -> None:
    """Funding names an existing connection or partner (OES-SBX-003)."""
    with pytest.raises(RuleViolation) as caught:
        funding.adjust(demo_store(), "ofcbtc", 1, **target)
    assert caught.value.rule == SBX_NOT_FOUND
