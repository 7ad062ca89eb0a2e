"""Who may call: scopes, enterprise membership, OES license and the partner's standing.

Steps 3 and 4 of the staging path (DESIGN.md); the read routes use the same checks.
"""

from __future__ import annotations

from oeskit.domain import rules
from oeskit.domain.model import READ_SCOPE, WRITE_SCOPE, Caller, Partner
from oeskit.domain.ports import Store
from oeskit.domain.records import Settlement
from oeskit.errors import RuleViolation


def authorize(
    store: Store,
    caller: Caller,
    enterprise_id: str,
    *,
    write: bool,
    active: bool = False,
    staging: bool = False,
) -> Partner:
    """The partner acting for `enterprise_id`, or the rule the caller breaks.

    `active`: the route acts for the partner (signing, staging), so an inactive one is refused;
    `staging`: the v2 route, which also needs disputes enabled.
    """
    needed = {READ_SCOPE, WRITE_SCOPE} if write else {READ_SCOPE}
    missing = sorted(needed - caller.scopes)
    if missing:
        raise RuleViolation(
            rules.AUTH_SCOPE,
            f"the access token lacks the scope(s) {', '.join(missing)} this route requires",
        )
    enterprise = store.enterprise(enterprise_id)
    if enterprise is None or caller.user_id not in enterprise.members:
        raise RuleViolation(
            rules.AUTH_MEMBER,
            f"the caller is not a member of enterprise {enterprise_id!r}",
        )
    if not enterprise.oes_license:
        raise RuleViolation(
            rules.ACC_LICENSE, f"enterprise {enterprise_id!r} does not have an OES license"
        )
    partner = store.partner_for_enterprise(enterprise_id)
    if partner is None:
        raise RuleViolation(
            rules.ACC_PARTNER, f"enterprise {enterprise_id!r} is not an OES partner"
        )
    if (active or staging) and not partner.active:
        raise RuleViolation(rules.ACC_INACTIVE, f"partner {partner.id} is inactive")
    if staging and not partner.disputes_enabled:
        raise RuleViolation(
            rules.ACC_DISPUTES,
            f"partner {partner.id} does not have disputes enabled: stage settlements with the "
            "v1 route (POST /api/network/v1/enterprises/{enterpriseId}/partners/settlements)",
        )
    return partner


def owned_settlement(store: Store, partner: Partner, settlement_id: str) -> Settlement:
    """The partner's settlement; another partner's is answered as if it did not exist."""
    row = store.settlement(settlement_id)
    if row is None or row.partner_id != partner.id:
        raise RuleViolation(
            rules.READ_NOT_FOUND,
            f"settlement {settlement_id} does not exist or does not belong to this partner",
        )
    return row
