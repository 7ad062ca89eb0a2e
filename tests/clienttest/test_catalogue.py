"""The client rules catalogue (`x-oeskit-client-rules` in openapi.yaml) and the plans agree, and
every client rule has a planted mistake in the self-proof that makes it fail."""

from __future__ import annotations

from pathlib import Path

from oeskit.clienttest import plans
from oeskit.clienttest.runner import client_rules
from tests.clienttest.test_self_proof import MISTAKES

DOC = (Path(__file__).resolve().parents[2] / "docs" / "client-test.md").read_text()


def test_each_rule_names_exactly_the_plans_that_check_it() -> None:
    """A rule's `plans` in the catalogue are the registry's plans whose checks include it."""
    for rule in client_rules():
        checking = [p.name for p in plans.PLANS if rule["id"] in p.rules]
        assert rule["plans"] == checking, rule["id"]


def test_every_rule_a_plan_checks_is_catalogued_and_documented() -> None:
    """No plan checks a rule the catalogue does not state; docs/client-test.md lists each."""
    catalogued = {str(r["id"]) for r in client_rules()}
    checked = {rule for p in plans.PLANS for rule in p.rules}
    assert checked == catalogued
    assert [r for r in sorted(catalogued) if f"`{r}`" not in DOC] == []


def test_every_rule_is_proved_by_a_planted_mistake() -> None:
    """A check that cannot fail is a defect: each client rule is the one a mistake must fail."""
    proved = {rule for _, _, rule in MISTAKES}
    assert {str(r["id"]) for r in client_rules()} <= proved
