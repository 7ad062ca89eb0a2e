"""The PostgreSQL schema and its migrations: the SQLite tables (`store/schema.py`) in
PostgreSQL's types, applied in order under an advisory lock and recorded in `migrations`, so
replicas starting together migrate once. A schema newer than this code is refused.

Amounts stay TEXT and flags INTEGER, as in SQLite, so one rows <-> records mapping
(`store/rows.py`) serves both stores. Two tables exist only here: `nonces` (the database's
unique constraint behind a partner's "unique nonce" rule across replicas).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from oeskit.errors import ConfigError

MIGRATIONS: list[str] = [
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE enterprises (id TEXT PRIMARY KEY, oes_license INTEGER NOT NULL);
    CREATE TABLE users (id TEXT PRIMARY KEY);
    CREATE TABLE memberships (user_id TEXT NOT NULL, enterprise_id TEXT NOT NULL,
        PRIMARY KEY (user_id, enterprise_id));
    CREATE INDEX memberships_enterprise ON memberships (enterprise_id);
    CREATE TABLE tokens (token TEXT PRIMARY KEY, user_id TEXT NOT NULL, scopes TEXT NOT NULL);
    CREATE TABLE partners (id TEXT PRIMARY KEY, enterprise_id TEXT NOT NULL, name TEXT NOT NULL,
        active INTEGER NOT NULL, broker INTEGER NOT NULL, dispute_window INTEGER,
        top_up_window INTEGER, amount_format TEXT NOT NULL, enforce_unique_nonce INTEGER NOT NULL,
        trading_account_id TEXT NOT NULL, currencies TEXT NOT NULL, keys TEXT NOT NULL);
    CREATE INDEX partners_enterprise ON partners (enterprise_id);
    CREATE TABLE partner_balances (partner_id TEXT NOT NULL, currency TEXT NOT NULL,
        available TEXT NOT NULL, PRIMARY KEY (partner_id, currency));
    CREATE TABLE clients (id TEXT PRIMARY KEY, enterprise_id TEXT NOT NULL,
        trading_account_id TEXT NOT NULL);
    CREATE TABLE connections (id TEXT PRIMARY KEY, partner_id TEXT NOT NULL,
        client_id TEXT NOT NULL, network_account_id TEXT NOT NULL, active INTEGER NOT NULL,
        partners_connection_id TEXT);
    CREATE INDEX connections_partner ON connections (partner_id);
    CREATE TABLE balances (connection_id TEXT NOT NULL, currency TEXT NOT NULL,
        available TEXT NOT NULL, held TEXT NOT NULL, PRIMARY KEY (connection_id, currency));
    CREATE TABLE settlements (id TEXT PRIMARY KEY, partner_id TEXT NOT NULL,
        external_id TEXT NOT NULL, status TEXT NOT NULL, initiated_by TEXT NOT NULL, notes TEXT,
        cutoff_at TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, finalized_at TEXT,
        reason TEXT, disputed INTEGER NOT NULL DEFAULT 0, nonce TEXT, payload TEXT,
        signature TEXT, fingerprint TEXT, dispute_window_ends_at TEXT, execute_at TEXT,
        window_closed_at TEXT);
    CREATE UNIQUE INDEX settlements_external ON settlements (partner_id, external_id);
    CREATE INDEX settlements_created ON settlements (partner_id, created_at, id);
    CREATE INDEX settlements_nonce ON settlements (partner_id, nonce);
    CREATE TABLE nonces (partner_id TEXT NOT NULL, nonce TEXT NOT NULL,
        PRIMARY KEY (partner_id, nonce));
    CREATE TABLE transfers (id TEXT PRIMARY KEY, settlement_id TEXT, seq BIGINT NOT NULL,
        source_connection_id TEXT, destination_connection_id TEXT NOT NULL,
        source_trading_account_id TEXT NOT NULL, source_network_account_id TEXT,
        destination_trading_account_id TEXT NOT NULL, destination_network_account_id TEXT NOT NULL,
        currency TEXT NOT NULL, quantity TEXT NOT NULL, status TEXT NOT NULL,
        tx_ids TEXT NOT NULL DEFAULT '[]', dispute_closure_id TEXT,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
    CREATE INDEX transfers_settlement ON transfers (settlement_id, seq);
    CREATE INDEX transfers_closure ON transfers (dispute_closure_id)
        WHERE dispute_closure_id IS NOT NULL;
    CREATE TABLE holds (settlement_id TEXT NOT NULL, connection_id TEXT NOT NULL,
        currency TEXT NOT NULL, amount TEXT NOT NULL,
        PRIMARY KEY (settlement_id, connection_id, currency));
    CREATE TABLE disputes (id TEXT PRIMARY KEY, disputed_settlement_id TEXT NOT NULL,
        connection_id TEXT NOT NULL, user_id TEXT NOT NULL, reason TEXT,
        expected_transfers TEXT NOT NULL DEFAULT '{}', retracted INTEGER NOT NULL DEFAULT 0,
        retracted_by TEXT, retracted_at TEXT, retracted_reason TEXT, dispute_closure_id TEXT,
        settled_in_settlement_id TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
    CREATE INDEX disputes_settlement ON disputes (disputed_settlement_id);
    CREATE INDEX disputes_settled_in ON disputes (settled_in_settlement_id);
    CREATE TABLE closures (id TEXT PRIMARY KEY, dispute_id TEXT NOT NULL, closed_by TEXT NOT NULL,
        user_id TEXT NOT NULL, notes TEXT NOT NULL, status TEXT NOT NULL,
        adjusted_transfers TEXT NOT NULL, created_at TEXT NOT NULL, reviewed_by TEXT,
        review_notes TEXT);
    CREATE TABLE outbox (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        type TEXT NOT NULL, settlement_id TEXT, connection_id TEXT, client_id TEXT,
        at TEXT NOT NULL, data TEXT NOT NULL);
    CREATE INDEX outbox_settlement ON outbox (settlement_id);
    CREATE TABLE jobs (id TEXT PRIMARY KEY, kind TEXT NOT NULL, settlement_id TEXT NOT NULL,
        due_at TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        worker TEXT, done_at TEXT);
    CREATE INDEX jobs_due ON jobs (status, due_at, kind);
    CREATE INDEX jobs_settlement ON jobs (settlement_id);
    CREATE TABLE request_log (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        at TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL, status INTEGER NOT NULL,
        rule TEXT, duration_ms DOUBLE PRECISION NOT NULL, enterprise_id TEXT,
        content_type TEXT, retry_after TEXT, fault TEXT, body BYTEA);
    CREATE INDEX request_log_enterprise ON request_log (enterprise_id, id)
        WHERE enterprise_id IS NOT NULL;
    CREATE TABLE faults (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        kind TEXT NOT NULL, external_id TEXT, milliseconds INTEGER, remaining INTEGER NOT NULL,
        enterprise_id TEXT, retry_after INTEGER);
    """,
    # The sandbox as BitGo toward partners' hosted endpoints: SQLite's migration 3 (the SQLite
    # store's migration 2 has no counterpart here: its columns are in the first one above).
    """
    ALTER TABLE partners ADD COLUMN hosted_url TEXT;
    ALTER TABLE partners ADD COLUMN async_allocations INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE connections ADD COLUMN partners_client_id TEXT;
    ALTER TABLE connections ADD COLUMN token_digest TEXT;
    CREATE TABLE bitgo_keys (id INTEGER PRIMARY KEY CHECK (id = 1), private_pem TEXT NOT NULL,
        created_at TEXT NOT NULL);
    CREATE TABLE allocations (id TEXT PRIMARY KEY, type TEXT NOT NULL, partner_id TEXT NOT NULL,
        connection_id TEXT NOT NULL, client_id TEXT NOT NULL, currency TEXT NOT NULL,
        partner_currency TEXT NOT NULL, quantity TEXT NOT NULL, status TEXT NOT NULL,
        step TEXT NOT NULL, reason TEXT, retriable INTEGER NOT NULL,
        client_external_id TEXT NOT NULL, partner_external_id TEXT, initiated_by TEXT NOT NULL,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
    CREATE UNIQUE INDEX allocations_request ON allocations (connection_id, client_external_id);
    CREATE INDEX allocations_partner ON allocations (partner_id, created_at, id);
    CREATE TABLE partner_calls (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        at TEXT NOT NULL, partner_id TEXT NOT NULL, subject_id TEXT NOT NULL,
        method TEXT NOT NULL, url TEXT NOT NULL, path TEXT NOT NULL, attempt INTEGER NOT NULL,
        status INTEGER, outcome TEXT NOT NULL, error TEXT, jti TEXT NOT NULL,
        duration_ms DOUBLE PRECISION NOT NULL, request_body TEXT, response_body TEXT);
    """,
]

# Tables a reset or a world load empties (the SQLite list plus `nonces`).
STATE_TABLES = (
    "enterprises",
    "users",
    "memberships",
    "tokens",
    "partners",
    "partner_balances",
    "clients",
    "connections",
    "balances",
    "settlements",
    "nonces",
    "transfers",
    "holds",
    "disputes",
    "closures",
    "outbox",
    "jobs",
    "request_log",
    "faults",
    "allocations",
    "partner_calls",
    "meta",
)

# pg_advisory_xact_lock keys: (class, object). The class says what is locked; the object is
# the schema's oid (migrations, the writer gate) or 0 (the namespace registry).
LOCK_MIGRATE = 0x0E5C_0001
LOCK_WRITER = 0x0E5C_0002
LOCK_NAMESPACES = 0x0E5C_0003


class SchemaTooNew(ConfigError):
    """The database was migrated by a newer oeskit than this one."""


def migrate(conn: psycopg.Connection[Any], schema: str) -> int:
    """Create `schema` if needed and apply its pending migrations in one transaction, under a
    transaction advisory lock (two replicas starting at once: the second waits, then finds
    nothing to do). Return the schema version; raise SchemaTooNew past this code's."""
    ident = sql.Identifier(schema)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (LOCK_MIGRATE, schema))
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(ident))
        conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(ident))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS migrations (version INTEGER PRIMARY KEY, "
            "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        done = {int(row[0]) for row in conn.execute("SELECT version FROM migrations")}
        newest = max(done, default=0)
        if newest > len(MIGRATIONS):
            raise SchemaTooNew(
                f"the database schema {schema!r} is at version {newest}, newer than this "
                f"oeskit knows ({len(MIGRATIONS)}): upgrade oeskit, or point --db at another "
                "database"
            )
        for version, script in enumerate(MIGRATIONS, start=1):
            if version in done:
                continue
            conn.execute(script.encode())  # several statements: sent as one simple query
            conn.execute("INSERT INTO migrations (version) VALUES (%s)", (version,))
    return len(MIGRATIONS)
