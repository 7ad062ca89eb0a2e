"""Who is calling and with what: tokens, enterprises, partners and connections, cached per
process until a world load moves the generation (see `SqliteBase.begin_request`)."""

from __future__ import annotations

import json
from collections.abc import Iterable

from oeskit.domain.model import Caller, Connection, Currency, Enterprise, Partner
from oeskit.signing import SigningKey
from oeskit.store.connection import Row, SqliteBase, in_list, token_digest


class Directory(SqliteBase):
    def caller(self, token: str) -> Caller | None:
        # Tokens are kept as SHA-256 digests: the lookup's timing says nothing about the secret.
        return self._cached("caller", token_digest(token), lambda: self._caller(token))

    def _caller(self, token: str) -> Caller | None:
        row = self._one(
            "SELECT user_id, scopes FROM tokens WHERE token = ?", (token_digest(token),)
        )
        if row is None:
            return None
        return Caller(row["user_id"], frozenset(json.loads(row["scopes"])))

    def enterprise(self, enterprise_id: str) -> Enterprise | None:
        return self._cached(
            "enterprise",
            enterprise_id,
            lambda: self._enterprise(enterprise_id),
        )

    def _enterprise(self, enterprise_id: str) -> Enterprise | None:
        row = self._one("SELECT id, oes_license FROM enterprises WHERE id = ?", (enterprise_id,))
        if row is None:
            return None
        members = frozenset(
            r[0]
            for r in self.conn.execute(
                "SELECT user_id FROM memberships WHERE enterprise_id = ?", (enterprise_id,)
            )
        )
        return Enterprise(row["id"], bool(row["oes_license"]), members)

    def _partner(self, row: Row | None) -> Partner | None:
        if row is None:
            return None
        currencies = tuple(
            Currency(c["code"], c["bitgoCurrency"], int(c["decimals"]))
            for c in json.loads(row["currencies"])
        )
        keys = tuple(SigningKey(k["scheme"], k["publicKey"], None) for k in json.loads(row["keys"]))
        return Partner(
            id=row["id"],
            enterprise_id=row["enterprise_id"],
            name=row["name"],
            active=bool(row["active"]),
            broker=bool(row["broker"]),
            dispute_window_minutes=row["dispute_window"],
            top_up_window_minutes=row["top_up_window"],
            amount_format=row["amount_format"],
            enforce_unique_nonce=bool(row["enforce_unique_nonce"]),
            trading_account_id=row["trading_account_id"],
            currencies=currencies,
            keys=keys,
        )

    def partner_for_enterprise(self, enterprise_id: str) -> Partner | None:
        return self._cached(
            "partner_of",
            enterprise_id,
            lambda: self._partner(
                self._one(
                    "SELECT * FROM partners WHERE enterprise_id = ? ORDER BY id LIMIT 1",
                    (enterprise_id,),
                )
            ),
        )

    def partner(self, partner_id: str) -> Partner | None:
        return self._cached(
            "partner",
            partner_id,
            lambda: self._partner(self._one("SELECT * FROM partners WHERE id = ?", (partner_id,))),
        )

    def connections(
        self, partner_id: str, ids: Iterable[str] | None = None
    ) -> dict[str, Connection]:
        sql = (
            "SELECT c.id, c.partner_id, c.client_id, c.network_account_id, c.active, "
            "cl.trading_account_id FROM connections c JOIN clients cl ON cl.id = c.client_id "
            "WHERE c.partner_id = ?"
        )
        params: list[object] = [partner_id]
        if ids is not None:
            wanted = list(ids)
            if not wanted:
                return {}
            members, values = in_list(wanted)
            sql += " AND c.id IN " + members
            params += values
        # By position: the PostgreSQL store's rows are plain tuples.
        return {
            r[0]: Connection(r[0], r[1], r[2], r[3], r[5], bool(r[4]))
            for r in self.conn.execute(sql, params)
        }

    def connection_partner(self, connection_id: str) -> str | None:
        row = self._one("SELECT partner_id FROM connections WHERE id = ?", (connection_id,))
        return str(row["partner_id"]) if row else None
