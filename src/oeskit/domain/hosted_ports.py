"""The port of the sandbox's BitGo side toward partner-hosted endpoints (`Hosted`): BitGo's key,
where each partner lives, linked connections, allocation records and the log of calls made.

Kept apart from `ports.Store` so another store (PostgreSQL) can add these methods on their
own; every method is a short read or a write the caller wraps in `Store.immediate()`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from oeskit.domain.allocation_flow import AllocationRecord
from oeskit.domain.model import Connection
from oeskit.domain.ports import Store


@dataclass(frozen=True, slots=True)
class HostedTarget:
    """Where a partner's endpoints live and whether it clears allocations itself (async)."""

    base_url: str | None
    asynchronous: bool


@dataclass(frozen=True, slots=True)
class PartnerCall:
    """One attempt of one call to a partner's endpoint, as logged (never the JWT itself)."""

    at: str
    partner_id: str
    subject_id: str  # the connection, allocation or deallocation id the call is about
    method: str
    url: str
    path: str
    attempt: int
    status: int | None  # None: no answer (timeout, refused connection)
    outcome: str  # answered | transient | refused
    error: str | None
    jti: str
    duration_ms: float
    request_body: str | None
    response_body: str | None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class AllocationFilter:
    """The filters and paging of BitGo's partner allocations list (0-based pages)."""

    ids: Sequence[str] = ()
    kinds: Sequence[str] = ()
    statuses: Sequence[str] = ()
    currencies: Sequence[str] = ()  # partner codes
    connection_ids: Sequence[str] = ()
    client_ids: Sequence[str] = ()
    sort_field: str | None = None  # id | updatedAt | quantity
    descending: bool = False
    page: int = 0
    size: int = 100


class Hosted(Protocol):
    # --- BitGo's RSA key (survives resets and restarts) --------------------------------------
    def bitgo_private_pem(self) -> str | None: ...
    def keep_bitgo_private_pem(self, private_pem: str, now: str) -> str:
        """Store the key unless one is there already; return the one kept (racing workers)."""
        ...

    # --- partners and connections --------------------------------------------------------------
    def hosted_target(self, partner_id: str) -> HostedTarget | None: ...
    def set_hosted_target(
        self, partner_id: str, base_url: str | None, asynchronous: bool | None
    ) -> None: ...
    def partners_ids(self, connection_id: str) -> tuple[str | None, str | None]:
        """(partnersConnectionId, partnersClientId) of a connection, None where unknown."""
        ...

    def connection_by_token(self, partner_id: str, digest: str) -> Connection | None: ...
    def add_client(self, client_id: str) -> None:
        """A client created by a connection request, unless it exists."""
        ...

    def insert_connection(self, connection: Connection, token_digest: str) -> None: ...
    def link_connection(
        self, connection_id: str, partners_connection_id: str, partners_client_id: str
    ) -> None: ...
    def delete_connection(self, connection_id: str) -> None: ...

    # --- allocation records ----------------------------------------------------------------
    def allocation(self, record_id: str) -> AllocationRecord | None: ...
    def allocation_by_request(
        self, connection_id: str, client_external_id: str
    ) -> AllocationRecord | None: ...
    def insert_allocation(self, record: AllocationRecord) -> None: ...
    def save_allocation(self, record: AllocationRecord) -> None: ...
    def list_allocations(
        self, partner_id: str, where: AllocationFilter
    ) -> list[AllocationRecord]: ...

    # --- the calls made --------------------------------------------------------------------
    def add_partner_call(self, call: PartnerCall) -> None: ...
    def log_request(self, entry: tuple[object, ...]) -> None:
        """Buffer a request-log row (the control plane's request log shows outbound calls)."""
        ...

    def partner_calls(
        self, limit: int = 100, partner_id: str | None = None, subject_id: str | None = None
    ) -> list[PartnerCall]: ...


class HostedStore(Store, Hosted, Protocol):
    """The store the BitGo-side flows work on: the domain's `Store` plus `Hosted`."""
