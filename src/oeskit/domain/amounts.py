"""settlementAmounts: which shape it is, what each amount means, and the transfers it maps to.

The strict number grammar is a decision of the brief (domain.md §3.4): base units are
`-?digits`, full units `-?digits(.digits)?` with at most the currency's decimals; zero, `+`,
exponents, hex and whitespace are refused.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping

from oeskit.domain import rules
from oeskit.domain.model import Connection, Instruction, Partner
from oeskit.errors import RuleViolation

PARTY = "party"  # Record<connection, Record<currency, amount>>
COUNTERPARTY = "counterparty"  # Record<source, Record<destination, Record<currency, amount>>>

_BASE = re.compile(r"-?[0-9]+")
_FULL = re.compile(r"-?([0-9]+)(?:\.([0-9]+))?")
_MAX_SHOWN = 60
MAX_AMOUNT_LENGTH = 1000


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + "...'"


def classify(amounts: Mapping[str, object]) -> str:
    """Tell the two shapes apart by the depth of the leaf strings; mixed depth is refused."""
    depths: set[int] = set()
    for outer, inner in amounts.items():
        if not isinstance(inner, Mapping):
            raise RuleViolation(rules.AMT_SHAPE, f"settlementAmounts[{outer!r}] must be an object")
        for key, value in inner.items():
            if isinstance(value, str):
                depths.add(2)
            elif isinstance(value, Mapping) and all(isinstance(v, str) for v in value.values()):
                depths.add(3)
            else:
                raise RuleViolation(
                    rules.AMT_SHAPE,
                    f"settlementAmounts[{outer!r}][{key!r}] must be an amount string or an object "
                    "of amount strings",
                )
    if len(depths) > 1:
        raise RuleViolation(
            rules.AMT_SHAPE,
            "settlementAmounts mixes the two shapes: use either {connection: {currency: amount}} "
            "or {sourceConnection: {destinationConnection: {currency: amount}}}",
        )
    return COUNTERPARTY if depths == {3} else PARTY


def parse_amount(text: str, *, amount_format: str, decimals: int, where: str) -> int:
    """Turn one partner amount into signed base units, refusing anything not canonical."""
    if len(text) > MAX_AMOUNT_LENGTH:
        # Python refuses int() of more than 4300 digits (a ValueError, so a 500): no real
        # amount comes near this bound.
        raise RuleViolation(
            rules.AMT_FORMAT,
            f"{where}: {_shown(text)} has too many digits (at most {MAX_AMOUNT_LENGTH} characters)",
        )
    if amount_format == "fullUnits":
        match = _FULL.fullmatch(text)
        if match is None:
            raise RuleViolation(
                rules.AMT_FORMAT,
                f'{where}: {_shown(text)} is not a decimal amount (expected e.g. "-1.25": digits, '
                "an optional '-' and '.', no exponent, '+', hex or spaces)",
            )
        whole, fraction = match.group(1), match.group(2) or ""
        if len(fraction) > decimals:
            raise RuleViolation(
                rules.AMT_DECIMALS,
                f"{where}: {_shown(text)} has {len(fraction)} decimals; this currency allows "
                f"at most {decimals}",
            )
        value = int(whole + fraction.ljust(decimals, "0"))
    else:
        if _BASE.fullmatch(text) is None:
            raise RuleViolation(
                rules.AMT_FORMAT,
                f'{where}: {_shown(text)} is not a base-unit integer (expected e.g. "-200": '
                "digits and an optional '-', no decimals, exponent, '+', hex or spaces)",
            )
        value = int(text.lstrip("-"))
    if text.startswith("-"):
        value = -value
    if value == 0:
        raise RuleViolation(rules.AMT_ZERO, f"{where}: amounts must not be zero")
    return value


def _where(*keys: str) -> str:
    return "settlementAmounts" + "".join(f"[{key!r}]" for key in keys)


def _connection(connections: Mapping[str, Connection] | None, conn_id: str, *path: str) -> None:
    """Refuse an id that is not one of the partner's connections. `path` locates it in the
    body; the message is only built on failure (this runs once per connection)."""
    if connections is None or conn_id in connections:  # None: the caller checks ids elsewhere
        return
    where = _where(*path)
    try:
        uuid.UUID(conn_id)
    except ValueError:
        raise RuleViolation(
            rules.AMT_CONNECTION, f"{where}: {_shown(conn_id)} is not a connection id (a UUID)"
        ) from None
    raise RuleViolation(
        rules.AMT_CONNECTION,
        f"{where}: connection {conn_id} does not exist or is not a connection of this partner",
    )


class _Leaves:
    """Parses the amount leaves of one request: currencies looked up in a dict, canonical
    base-unit integers taken by a fast path, and error messages built only for the leaf that
    fails (a 50,000-leaf settlement spent most of its parsing time formatting paths)."""

    def __init__(self, partner: Partner) -> None:
        self.partner = partner
        self.currencies = {c.code: c for c in partner.currencies}
        self.base_units = partner.amount_format != "fullUnits"

    def parse(self, code: str, text: str, *path: str) -> tuple[str, int]:
        currency = self.currencies.get(code)
        if currency is None:
            supported = ", ".join(c.code for c in self.partner.currencies) or "none"
            raise RuleViolation(
                rules.AMT_CURRENCY,
                f"{_where(*path)}: currency {_shown(code)} is not supported by this partner "
                f"(supported: {supported})",
            )
        if self.base_units and len(text) <= MAX_AMOUNT_LENGTH and text.isascii():
            digits = text[1:] if text[:1] == "-" else text
            if digits.isdigit():
                value = int(text)
                if value:
                    return currency.bitgo, value
        quantity = parse_amount(
            text,
            amount_format=self.partner.amount_format,
            decimals=currency.decimals,
            where=_where(*path),
        )
        return currency.bitgo, quantity


def connection_ids(amounts: Mapping[str, object], shape: str) -> set[str]:
    """Every connection id the instructions name (outer keys, and middle keys when nested)."""
    ids = set(amounts)
    if shape == COUNTERPARTY:
        for inner in amounts.values():
            ids.update(inner)  # type: ignore[arg-type]
    return ids


def instructions(
    amounts: Mapping[str, object],
    shape: str,
    partner: Partner,
    connections: Mapping[str, Connection] | None,
) -> list[Instruction]:
    """Map settlementAmounts to transfers (domain.md §8.8), checking every id and amount.

    With `connections` None the ids are not checked (a replay compares against a settlement
    whose ids were checked when it was staged)."""
    out: list[Instruction] = []
    leaves_of = _Leaves(partner)
    if shape == PARTY:
        for conn_id, leaves in amounts.items():
            _connection(connections, conn_id, conn_id)
            for code, text in leaves.items():  # type: ignore[attr-defined]
                bitgo, quantity = leaves_of.parse(code, text, conn_id, code)
                out.append(Instruction(None, conn_id, bitgo, quantity))
        if partner.broker:
            _check_nets_to_zero(out)
        return out
    for source, middle in amounts.items():
        _connection(connections, source, source)
        for destination, leaves in middle.items():  # type: ignore[attr-defined]
            _connection(connections, destination, source, destination)
            if destination == source:
                raise RuleViolation(
                    rules.AMT_SELF_PAIR,
                    f"{_where(source, destination)}: a connection cannot settle with itself",
                )
            for code, text in leaves.items():
                bitgo, quantity = leaves_of.parse(code, text, source, destination, code)
                out.append(Instruction(source, destination, bitgo, quantity))
    return out


def _check_nets_to_zero(items: list[Instruction]) -> None:
    totals: dict[str, int] = {}
    for item in items:
        totals[item.currency] = totals.get(item.currency, 0) + item.quantity
    unbalanced = {currency: total for currency, total in totals.items() if total != 0}
    if unbalanced:
        detail = ", ".join(f"{c} nets to {t}" for c, t in sorted(unbalanced.items()))
        raise RuleViolation(
            rules.AMT_BROKER_NET,
            f"a broker partner's amounts must net to zero per currency (spread is not "
            f"supported): {detail}",
        )


def net_flows(items: list[Instruction]) -> dict[tuple[str, str], int]:
    """Net signed flow into each (connection, currency); the partner account is left out."""
    flows: dict[tuple[str, str], int] = {}
    for item in items:
        key = (item.destination, item.currency)
        flows[key] = flows.get(key, 0) + item.quantity
        if item.source is not None:
            key = (item.source, item.currency)
            flows[key] = flows.get(key, 0) - item.quantity
    return flows


def liabilities(items: list[Instruction]) -> dict[tuple[str, str], int]:
    """What each (connection, currency) owes: max(0, -net flow), only the positive ones."""
    return {key: -flow for key, flow in net_flows(items).items() if flow < 0}
