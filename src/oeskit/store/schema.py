"""The database schema and its migrations, applied in order and recorded in `migrations`.

Amounts are TEXT: base units of 18-decimal assets overflow SQLite's 64-bit INTEGER.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: list[str] = [
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE enterprises (id TEXT PRIMARY KEY, oes_license INTEGER NOT NULL);
    CREATE TABLE users (id TEXT PRIMARY KEY);
    CREATE TABLE memberships (user_id TEXT NOT NULL, enterprise_id TEXT NOT NULL,
        PRIMARY KEY (user_id, enterprise_id));
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
        available TEXT NOT NULL, held TEXT NOT NULL, PRIMARY KEY (connection_id, currency))
        WITHOUT ROWID;
    CREATE TABLE settlements (id TEXT PRIMARY KEY, partner_id TEXT NOT NULL,
        external_id TEXT NOT NULL, status TEXT NOT NULL, initiated_by TEXT NOT NULL, notes TEXT,
        cutoff_at TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, finalized_at TEXT,
        reason TEXT, disputed INTEGER NOT NULL DEFAULT 0, nonce TEXT, payload TEXT,
        signature TEXT, fingerprint TEXT, dispute_window_ends_at TEXT, execute_at TEXT,
        window_closed_at TEXT);
    CREATE UNIQUE INDEX settlements_external ON settlements (partner_id, external_id);
    CREATE INDEX settlements_created ON settlements (partner_id, created_at, id);
    CREATE TABLE transfers (id TEXT PRIMARY KEY, settlement_id TEXT, seq INTEGER NOT NULL,
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
        PRIMARY KEY (settlement_id, connection_id, currency)) WITHOUT ROWID;
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
    CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL,
        settlement_id TEXT, connection_id TEXT, client_id TEXT, at TEXT NOT NULL,
        data TEXT NOT NULL);
    CREATE TABLE jobs (id TEXT PRIMARY KEY, kind TEXT NOT NULL, settlement_id TEXT NOT NULL,
        due_at TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        worker TEXT, done_at TEXT);
    CREATE INDEX jobs_due ON jobs (status, due_at, kind);
    CREATE TABLE request_log (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL,
        method TEXT NOT NULL, path TEXT NOT NULL, status INTEGER NOT NULL, rule TEXT,
        duration_ms REAL NOT NULL);
    CREATE TABLE faults (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,
        external_id TEXT, milliseconds INTEGER, remaining INTEGER NOT NULL);
    """,
    # Client tests (issue 11): faults scoped to a partner's enterprise, the busy fault's
    # Retry-After, and a request log holding what grading a client needs.
    """
    ALTER TABLE faults ADD COLUMN enterprise_id TEXT;
    ALTER TABLE faults ADD COLUMN retry_after INTEGER;
    ALTER TABLE request_log ADD COLUMN enterprise_id TEXT;
    ALTER TABLE request_log ADD COLUMN content_type TEXT;
    ALTER TABLE request_log ADD COLUMN retry_after TEXT;
    ALTER TABLE request_log ADD COLUMN fault TEXT;
    ALTER TABLE request_log ADD COLUMN body BLOB;
    CREATE INDEX request_log_enterprise ON request_log (enterprise_id, id)
        WHERE enterprise_id IS NOT NULL;
    """,
    # The sandbox plays BitGo toward a partner's hosted endpoints (issue 20): where the partner
    # lives, BitGo's RSA signing key (its own table: a reset must not change the key partners
    # configured), the allocations and deallocations it runs, and every call it made.
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
    CREATE TABLE partner_calls (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL,
        partner_id TEXT NOT NULL, subject_id TEXT NOT NULL, method TEXT NOT NULL,
        url TEXT NOT NULL, path TEXT NOT NULL, attempt INTEGER NOT NULL, status INTEGER,
        outcome TEXT NOT NULL, error TEXT, jti TEXT NOT NULL, duration_ms REAL NOT NULL,
        request_body TEXT, response_body TEXT);
    """,
]

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


def migrate(conn: sqlite3.Connection) -> int:
    """Apply pending migrations; return the schema version. Safe to race across processes."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS migrations (version INTEGER PRIMARY KEY, applied_at TEXT)"
        )
        done = {row[0] for row in conn.execute("SELECT version FROM migrations")}
        for version, script in enumerate(MIGRATIONS, start=1):
            if version in done:
                continue
            for statement in filter(str.strip, script.split(";")):
                conn.execute(statement)
            conn.execute("INSERT INTO migrations VALUES (?, datetime('now'))", (version,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return len(MIGRATIONS)
