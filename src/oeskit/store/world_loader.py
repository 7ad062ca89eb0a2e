"""Write a validated world (fixtures/worlds/*.yaml) into the database, replacing all state or
adding to it (a merge refuses ids that already exist): the domain's `Worlds` port
(`SqliteWorlds`). A pending settlement of a world gets its windows, jobs and holds from
staging's own functions, as if it had been staged at its createdAt."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from oeskit.clock import ClockState, format_instant, parse_instant
from oeskit.domain import staging
from oeskit.domain.allocation_flow import AllocationRecord, Kind, Status, Step
from oeskit.domain.amounts import liabilities
from oeskit.domain.model import Instruction
from oeskit.domain.records import (
    ClosedBy,
    ClosureStatus,
    Settlement,
    SettlementStatus,
    TransferStatus,
)
from oeskit.domain.sandbox_rules import SBX_STATE
from oeskit.errors import RuleViolation
from oeskit.store.sqlite import SqliteStore, token_digest
from oeskit.worlds import WorldError


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


class SqliteWorlds:
    """The `Worlds` port over a SqliteStore."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store

    def load(
        self,
        world: Mapping[str, Any],
        real_now: datetime,
        clock_option: str = "wall",
        *,
        merge: bool = False,
    ) -> dict[str, int]:
        return load_world(self.store, world, real_now, clock_option, merge=merge)

    def reset(self) -> None:
        reset(self.store)


def reset(store: SqliteStore) -> None:
    with store.immediate():
        for table in store.state_tables:
            store.conn.execute(f"DELETE FROM {table}")
        store.bump_generation()


# Entity kinds a merge must not collide on: world key -> table (the id column is `id`).
_MERGE_TABLES = {
    "enterprises": "enterprises",
    "users": "users",
    "partners": "partners",
    "clients": "clients",
    "connections": "connections",
    "settlements": "settlements",
    "disputes": "disputes",
    "allocations": "allocations",
}


def load_world(
    store: SqliteStore,
    world: Mapping[str, Any],
    real_now: datetime,
    clock_option: str = "wall",
    *,
    merge: bool = False,
) -> dict[str, int]:
    """Replace the state with `world` in one transaction (or, with `merge`, add it beside the
    state, keeping the clock); return what was loaded, by kind."""
    db = store.db
    with store.immediate():
        if merge:
            _refuse_clashes(store, world)
        else:
            for table in store.state_tables:
                store.conn.execute(f"DELETE FROM {table}")
            start = parse_instant(world["clock"]) if world.get("clock") else None
            option = "frozen" if start is not None and clock_option == "wall" else clock_option
            store.set_clock_state(ClockState.from_option(option, real_now, start))
        store.bump_generation()
        db.table("enterprises").insert_all(
            {"id": e["id"], "oes_license": int(bool(e.get("oesLicense", False)))}
            for e in world.get("enterprises", [])
        )
        db.table("users").insert_all({"id": u["id"]} for u in world.get("users", []))
        db.table("memberships").insert_all(
            {"user_id": u["id"], "enterprise_id": e}
            for u in world.get("users", [])
            for e in u.get("enterprises", [])
        )
        db.table("tokens").insert_all(
            {
                "token": token_digest(t["token"]),
                "user_id": t["user"],
                "scopes": _dumps(list(t.get("scopes", []))),
            }
            for t in world.get("tokens", [])
        )
        for p in world.get("partners", []):
            db.table("partners").insert(
                {
                    "id": p["id"],
                    "enterprise_id": p["enterpriseId"],
                    "name": p.get("name", p["id"]),
                    "active": int(p.get("active", True)),
                    "broker": int(p.get("broker", False)),
                    "dispute_window": p.get("clientDisputeWindowMinutes"),
                    "top_up_window": p.get("topUpWindowMinutes"),
                    "amount_format": p.get("amountFormat", "baseUnits"),
                    "enforce_unique_nonce": int(p.get("enforceUniqueNonce", False)),
                    "trading_account_id": p.get("tradingAccountId", f"{p['id']}-go-account"),
                    "currencies": _dumps(p.get("currencies", [])),
                    "hosted_url": p.get("hostedUrl"),
                    "async_allocations": int(bool(p.get("asyncAllocations", False))),
                    # A test world's private halves are kept for the control plane's signing
                    # helper (POST /sandbox/sign); nothing on the partner API reads them.
                    "keys": _dumps(
                        [
                            {
                                "scheme": k.get("scheme", "ed25519"),
                                "publicKey": k["publicKey"],
                                **({"privateKey": k["privateKey"]} if k.get("privateKey") else {}),
                            }
                            for k in p.get("signingKeys", [])
                        ]
                    ),
                }
            )
            db.table("partner_balances").insert_all(
                {"partner_id": p["id"], "currency": cur, "available": str(amount)}
                for cur, amount in (p.get("balances") or {}).items()
            )
        db.table("clients").insert_all(
            {
                "id": c["id"],
                "enterprise_id": c.get("enterpriseId", ""),
                "trading_account_id": c.get("tradingAccountId", f"{c['id']}-go-account"),
            }
            for c in world.get("clients", [])
        )
        for c in world.get("connections", []):
            db.table("connections").insert(
                {
                    "id": c["id"],
                    "partner_id": c["partnerId"],
                    "client_id": c["clientId"],
                    "network_account_id": c["networkAccountId"],
                    "active": int(c.get("active", True)),
                    "partners_connection_id": c.get("partnersConnectionId"),
                    "partners_client_id": c.get("partnersClientId"),
                }
            )
            db.table("balances").insert_all(
                {
                    "connection_id": c["id"],
                    "currency": cur,
                    "available": str(b.get("available", "0")),
                    "held": str(b.get("held", "0")),
                }
                for cur, b in (c.get("balances") or {}).items()
            )
        for s in world.get("settlements", []):
            _load_settlement(store, s)
        for d in world.get("disputes", []):
            _load_dispute(store, d)
        for a in world.get("allocations", []):
            _load_allocation(store, a, real_now)
    return {
        "enterprises": len(world.get("enterprises", [])),
        "users": len(world.get("users", [])),
        "tokens": len(world.get("tokens", [])),
        "partners": len(world.get("partners", [])),
        "clients": len(world.get("clients", [])),
        "connections": len(world.get("connections", [])),
        "settlements": len(world.get("settlements", [])),
        "disputes": len(world.get("disputes", [])),
        "allocations": len(world.get("allocations", [])),
    }


def _refuse_clashes(store: SqliteStore, world: Mapping[str, Any]) -> None:
    if world.get("clock"):
        raise WorldError("clock: a merged world cannot set the clock (it is shared)")
    clashes = [
        f"{key}[{item['id']}]"
        for key, table in _MERGE_TABLES.items()
        for item in world.get(key, [])
        if store.conn.execute(f"SELECT 1 FROM {table} WHERE id = ?", (item["id"],)).fetchone()
    ]
    clashes += [
        f"tokens[{i}]"
        for i, t in enumerate(world.get("tokens", []))
        if store.conn.execute(
            "SELECT 1 FROM tokens WHERE token = ?", (token_digest(t["token"]),)
        ).fetchone()
    ]
    if clashes:
        raise RuleViolation(
            SBX_STATE, "cannot merge the world: already in the sandbox: " + ", ".join(clashes[:10])
        )


def _accounts(
    store: SqliteStore, partner_id: str, connection_id: str | None
) -> tuple[str, str | None]:
    if connection_id is None:
        row = store.conn.execute(
            "SELECT trading_account_id FROM partners WHERE id = ?", (partner_id,)
        ).fetchone()
        return row[0], None
    conn = store.connections(partner_id, [connection_id])[connection_id]
    return conn.trading_account_id, conn.network_account_id


def _instant(value: str | None, default: str) -> str:
    return format_instant(parse_instant(value)) if value else default


def _load_settlement(store: SqliteStore, s: Mapping[str, Any]) -> None:
    created = _instant(s.get("createdAt"), "2026-01-01T00:00:00.000Z")
    status = SettlementStatus(s.get("status", SettlementStatus.COMPLETED))
    pending = status == SettlementStatus.PENDING
    window_end = execute_at = created
    if pending:
        partner = store.partner(s["partnerId"])
        assert partner is not None
        ends, executes = staging.windows(partner, parse_instant(created))
        window_end, execute_at = format_instant(ends), format_instant(executes)
    store.insert_settlement(
        Settlement(
            id=s["id"],
            partner_id=s["partnerId"],
            external_id=s["externalId"],
            status=status,
            initiated_by=s.get("initiatedBy", "world-loader"),
            notes=s.get("notes"),
            cutoff_at=_instant(s.get("cutoffAt"), created),
            created_at=created,
            updated_at=_instant(s.get("updatedAt"), created),
            finalized_at=_instant(s.get("finalizedAt"), created)
            if status == SettlementStatus.COMPLETED
            else None,
            reason=s.get("reason"),
            disputed=bool(s.get("disputed", False)),
            fingerprint="world:" + s["id"],
            dispute_window_ends_at=window_end,
            execute_at=execute_at,
            window_closed_at=None if pending else created,
        )
    )
    if pending:
        _schedule_pending(store, s, parse_instant(window_end), parse_instant(execute_at))
    for seq, t in enumerate(s.get("transfers", [])):
        src_trading, src_network = _accounts(store, s["partnerId"], t.get("sourceConnectionId"))
        dst_trading, dst_network = _accounts(store, s["partnerId"], t["destinationConnectionId"])
        store.db.table("transfers").insert(
            {
                "id": t.get("id") or str(uuid.uuid4()),
                "settlement_id": s["id"],
                "seq": seq,
                "source_connection_id": t.get("sourceConnectionId"),
                "destination_connection_id": t["destinationConnectionId"],
                "source_trading_account_id": src_trading,
                "source_network_account_id": src_network,
                "destination_trading_account_id": dst_trading,
                "destination_network_account_id": dst_network,
                "currency": t["currency"],
                "quantity": str(t["quantity"]),
                "status": t.get("status", status.value),
                "tx_ids": _dumps(
                    [str(uuid.uuid4())] if status == SettlementStatus.COMPLETED else []
                ),
                "created_at": created,
                "updated_at": created,
            }
        )


def _schedule_pending(
    store: SqliteStore, s: Mapping[str, Any], window_end: datetime, execute_at: datetime
) -> None:
    """A pending settlement in a world is one staged before the world's `now`: it gets its
    finalize jobs, and its connections' liabilities move from available to held (world
    balances are written as they stood before the settlement), as staging would."""
    store.add_jobs(s["id"], staging.finalize_jobs(window_end, execute_at))
    pending = [
        Instruction(
            t.get("sourceConnectionId"),
            t["destinationConnectionId"],
            t["currency"],
            int(t["quantity"]),
        )
        for t in s.get("transfers", [])
        if t.get("status", TransferStatus.PENDING) == TransferStatus.PENDING
    ]
    owed = liabilities(pending)
    try:
        balances = staging.check_liabilities(store, owed)
    except RuleViolation as exc:
        short = exc.extra
        raise WorldError(
            f"settlements[{s['id']}]: this pending settlement holds {short['required']} "
            f"{short['currency']} of connection {short['connectionId']}, which has only "
            f"{short['available']} available"
        ) from None
    store.add_holds(s["id"], owed, balances)


def _load_dispute(store: SqliteStore, d: Mapping[str, Any]) -> None:
    settlement = store.settlement(d["settlementId"])
    assert settlement is not None
    created = _instant(d.get("createdAt"), settlement.created_at)
    closure = d.get("closure")
    store.db.table("disputes").insert(
        {
            "id": d["id"],
            "disputed_settlement_id": d["settlementId"],
            "connection_id": d["connectionId"],
            "user_id": d.get("userId", "client-user"),
            "reason": d.get("reason"),
            "expected_transfers": _dumps(d.get("expectedTransfers") or {}),
            "retracted": int(bool(d.get("retracted", False))),
            "dispute_closure_id": closure["id"] if closure else None,
            "settled_in_settlement_id": d.get("settledInSettlementId"),
            "created_at": created,
            "updated_at": created,
        }
    )
    if not closure:
        return
    closed_at = _instant(closure.get("createdAt"), created)
    store.db.table("closures").insert(
        {
            "id": closure["id"],
            "dispute_id": d["id"],
            "closed_by": closure.get("closedBy", ClosedBy.ADMIN.value),
            "user_id": closure.get("userId", "bitgo-admin"),
            "notes": closure.get("notes", ""),
            "status": closure.get("status", ClosureStatus.APPROVED.value),
            "adjusted_transfers": _dumps(closure.get("adjustedTransfers") or {}),
            "created_at": closed_at,
        }
    )
    assigned = d.get("settledInSettlementId")
    store.insert_closure_transfers(
        closure["id"],
        settlement.partner_id,
        d["connectionId"],
        [
            (cur, int(q), str(uuid.uuid4()))
            for cur, q in (closure.get("adjustedTransfers") or {}).items()
        ],
        parse_instant(closed_at),
    )
    if assigned:
        store.conn.execute(
            "UPDATE transfers SET settlement_id = ?, status = ? WHERE dispute_closure_id = ?",
            (assigned, TransferStatus.COMPLETED.value, closure["id"]),
        )


def _load_allocation(store: SqliteStore, a: Mapping[str, Any], real_now: datetime) -> None:
    """A world's allocation record; a reserved one awaits the partner's update."""
    connection = store.conn.execute(
        "SELECT partner_id, client_id FROM connections WHERE id = ?", (a["connectionId"],)
    ).fetchone()
    partner = store.partner(connection[0])
    assert partner is not None
    currency = partner.currency_by_bitgo(a["currency"])
    assert currency is not None
    stamp = _instant(a.get("createdAt"), format_instant(real_now))
    reserved = a["status"] == Status.RESERVED.value
    store.insert_allocation(
        AllocationRecord(
            id=a["id"],
            kind=Kind(a["type"]),
            partner_id=connection[0],
            connection_id=a["connectionId"],
            client_id=connection[1],
            currency=a["currency"],
            partner_currency=currency.code,
            quantity=int(a["quantity"]),
            status=Status(a["status"]),
            step=Step.AWAIT if reserved else Step.DONE,
            reason=a.get("reason"),
            retriable=False,
            client_external_id=a.get("clientExternalId") or a["id"],
            partner_external_id=a.get("partnerExternalId"),
            initiated_by=a.get("initiatedBy", "world"),
            created_at=stamp,
            updated_at=stamp,
        )
    )
