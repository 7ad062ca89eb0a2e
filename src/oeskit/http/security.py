"""Bearer-token checks wired into connexion's security middleware (step 1: 401 before the body).

connexion resolves security functions by dotted name; we hand it handler classes built per app
instead, so the lookup reaches the store of the namespace the request addresses
(`services.current()`) without module-level state.
"""

from __future__ import annotations

import hmac
import typing as t

from connexion.security import BearerSecurityHandler

from oeskit.http.services import current


def partner_bearer() -> type[BearerSecurityHandler]:
    """A handler class whose token lookup answers the token's caller in the namespace the
    request addresses, or None (401)."""

    def token_info(token: str) -> dict[str, t.Any] | None:
        caller = current().store.caller(token)
        if caller is None:
            return None
        return {"sub": caller.user_id, "caller": caller}

    class PartnerBearer(BearerSecurityHandler):
        def _resolve_func(self, security_scheme: dict[str, t.Any]) -> t.Callable[..., t.Any]:
            return token_info

    return PartnerBearer


def admin_bearer(admin_token: str) -> type[BearerSecurityHandler]:
    """A handler class that accepts only the sandbox admin token, compared in constant time."""
    expected = admin_token.encode()

    def token_info(token: str) -> dict[str, t.Any] | None:
        if hmac.compare_digest(token.encode(), expected):
            return {"sub": "sandbox-admin"}
        return None

    class AdminBearer(BearerSecurityHandler):
        def _resolve_func(self, security_scheme: dict[str, t.Any]) -> t.Callable[..., t.Any]:
            return token_info

    return AdminBearer
