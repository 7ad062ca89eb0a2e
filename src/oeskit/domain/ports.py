"""The ports of the domain: what the rules need from persistence (`Store`), what the read routes
and the control plane read (`Reads`), and how a world replaces the state (`Worlds`). Records
cross them (`domain/records.py`), never rows; nothing here says how anything is kept."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from oeskit.domain.model import Balance, Caller, Connection, Enterprise, Instruction, Partner
from oeskit.domain.records import (
    Closure,
    ConnectionBalances,
    Dispute,
    DisputeView,
    Job,
    JobKind,
    OutboxEvent,
    Settlement,
    Transfer,
    TransferStatus,
)


class Store(Protocol):
    # --- who is calling ---------------------------------------------------------------------
    def caller(self, token: str) -> Caller | None: ...
    def enterprise(self, enterprise_id: str) -> Enterprise | None: ...
    def partner_for_enterprise(self, enterprise_id: str) -> Partner | None: ...
    def partner(self, partner_id: str) -> Partner | None: ...
    def connections(
        self, partner_id: str, ids: Iterable[str] | None = None
    ) -> dict[str, Connection]: ...

    def connection_partner(self, connection_id: str) -> str | None: ...

    # --- the staging transaction -----------------------------------------------------------
    def immediate(self) -> AbstractContextManager[None]:
        """A write transaction taken at once (BEGIN IMMEDIATE): all or nothing."""
        ...

    def settlement_by_external_id(self, partner_id: str, external_id: str) -> Settlement | None: ...
    def nonce_used(self, partner_id: str, nonce: str) -> bool: ...
    def closed_unassigned_disputes(self, partner_id: str) -> list[Dispute]: ...
    def closure_transfers(self, closure_ids: Sequence[str]) -> list[Instruction]: ...
    def balances(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Balance]: ...
    def insert_settlement(self, settlement: Settlement) -> None: ...
    def insert_transfers(
        self,
        settlement_id: str,
        items: Sequence[Instruction],
        partner: Partner,
        connections: Mapping[str, Connection],
        now: datetime,
    ) -> None: ...
    def assign_disputes(
        self,
        dispute_ids: Sequence[str],
        closure_ids: Sequence[str],
        settlement_id: str,
        now: datetime,
    ) -> None: ...
    def add_holds(
        self,
        settlement_id: str,
        holds: Mapping[tuple[str, str], int],
        balances: Mapping[tuple[str, str], Balance],
    ) -> None: ...
    def add_outbox(self, events: Iterable[OutboxEvent]) -> None: ...
    def add_jobs(self, settlement_id: str, jobs: Sequence[tuple[JobKind, datetime]]) -> None: ...

    # --- the lifecycle ---------------------------------------------------------------------
    def settlement(self, settlement_id: str) -> Settlement | None: ...
    def settlement_transfers(self, settlement_id: str) -> list[Transfer]: ...
    def settlement_holds(self, settlement_id: str) -> dict[tuple[str, str], int]: ...
    def set_holds(self, settlement_id: str, holds: Mapping[tuple[str, str], int]) -> None: ...
    def save_settlement(self, settlement: Settlement) -> None:
        """Write the fields that change after staging (status, reason, disputed, times)."""
        ...

    def set_transfer_status(
        self, ids: Sequence[str], status: TransferStatus, updated_at: str
    ) -> None: ...
    def set_transfer_tx(self, transfer_id: str, tx_id: str) -> None: ...
    def move_balance(
        self, connection_id: str, currency: str, available: int, held: int
    ) -> None: ...
    def partner_balance(self, partner_id: str, currency: str) -> int: ...
    def move_partner_balance(self, partner_id: str, currency: str, delta: int) -> None: ...
    def disputes_on(self, settlement_id: str) -> list[Dispute]: ...
    def has_due_job(self, now: datetime) -> bool: ...
    def claim_due_job(self, now: datetime, worker: str) -> Job | None: ...
    def finish_job(self, job_id: str) -> None: ...
    def jobs_for(self, settlement_id: str) -> list[Job]: ...

    # --- disputes --------------------------------------------------------------------------
    def dispute(self, dispute_id: str) -> Dispute | None: ...
    def insert_dispute(self, dispute: Dispute) -> None: ...
    def save_dispute(self, dispute: Dispute) -> None:
        """Write the fields that change after a dispute is raised (retraction, closure)."""
        ...

    def insert_closure(self, closure: Closure) -> None: ...
    def insert_closure_transfers(
        self,
        closure_id: str,
        partner_id: str,
        connection_id: str,
        amounts: Sequence[tuple[str, int, str]],
        now: datetime,
    ) -> None: ...


class Reads(Protocol):
    """What the partner read routes and the control plane read. Pages are 0-based."""

    def list_settlements(
        self,
        partner_id: str,
        *,
        settlement_ids: Sequence[str] = (),
        external_ids: Sequence[str] = (),
        party_ids: Sequence[str] = (),
        counterparty_ids: Sequence[str] = (),
        only_disputed: bool = False,
        created_from: str | None = None,
        created_before: str | None = None,
        updated_from: str | None = None,
        updated_before: str | None = None,
        page: int = 0,
        size: int = 100,
    ) -> list[Settlement]: ...

    def transfers_page(
        self,
        settlement_id: str,
        *,
        source_network: Sequence[str] = (),
        source_trading: Sequence[str] = (),
        destination_network: Sequence[str] = (),
        destination_trading: Sequence[str] = (),
        currencies: Sequence[str] = (),
        page: int = 0,
        size: int = 100,
    ) -> list[Transfer]: ...

    def list_disputes(
        self,
        partner_id: str,
        *,
        settlement_ids: Sequence[str] = (),
        settled_in_ids: Sequence[str] = (),
        connection_ids: Sequence[str] = (),
        dispute_ids: Sequence[str] = (),
        closed: bool | None = None,
        show_retracted: bool = False,
        page: int = 0,
        size: int = 100,
    ) -> list[DisputeView]: ...

    def dispute_view(self, dispute_id: str) -> DisputeView | None: ...
    def settling_disputes(self, settlement_id: str) -> list[DisputeView]:
        """Disputes whose closures this settlement carries."""
        ...

    def settlement_disputes(self, settlement_id: str) -> list[DisputeView]:
        """Disputes raised on this settlement."""
        ...

    def partner_balances(
        self,
        partner_id: str,
        *,
        connection_ids: Sequence[str] = (),
        client_ids: Sequence[str] = (),
        page: int = 0,
        size: int = 100,
    ) -> tuple[list[ConnectionBalances], dict[str, Balance]]:
        """(a page of the partner's connections with their balances, the partner's own)."""
        ...

    def outbox(
        self, *, event_type: str | None = None, settlement_id: str | None = None
    ) -> list[OutboxEvent]: ...
    def jobs(self) -> list[Job]: ...
    def requests(self, limit: int = 100, enterprise_id: str | None = None) -> list[dict[str, Any]]:
        """The newest request-log rows, all or one enterprise's (the control plane's)."""
        ...

    def partner_keys(self, enterprise_id: str) -> tuple[str, list[dict[str, str]]] | None:
        """(partner id, its signing keys as the world gave them, private halves included), for
        the control plane's signing helper only."""
        ...


class Worlds(Protocol):
    """Replacing the whole state: a world file loaded, or the sandbox reset."""

    def load(
        self,
        world: Mapping[str, Any],
        real_now: datetime,
        clock_option: str = "wall",
        *,
        merge: bool = False,
    ) -> dict[str, int]:
        """Replace the state with `world`, or with `merge` add it beside the state (an id that
        exists is OES-SBX-004)."""
        ...

    def reset(self) -> None: ...
