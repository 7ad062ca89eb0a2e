"""What every 200 must echo of its request, checked on every step without the scenario asking:
a staged settlement carries the externalId, notes and cutoffAt sent; a signing payload holds
exactly the signed fields sent; a list filtered by externalIds holds only those. A mock that
answers its contract's canned example (Prism) fails here; a status check alone would pass it.
HTTP data only (black box)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from oeskit import signing
from oeskit.conformance.jsonpath import MISSING, lookup

_STAGE = re.compile(r"/api/network/v2/enterprises/[^/]+/partners/settlements$")
_SIGNING = re.compile(r"/api/network/v1/enterprises/[^/]+/partners/settlements-signing$")
_LIST = re.compile(r"/api/network/v1/enterprises/[^/]+/partners/settlements$")

# (what differs, what the request implies, what came back)
Mismatch = tuple[str, Any, Any]


def mismatches(
    method: str, route: str, body: Any, params: Mapping[str, Any] | None, data: Any
) -> list[Mismatch]:
    """How a 200 answer `data` to the request fails to echo it (empty when it does)."""
    if method == "POST" and _STAGE.search(route) and isinstance(body, dict):
        return _staged(body, data)
    if _SIGNING.search(route):
        fields = body if method == "POST" else _query_fields(params or {})
        return _payload(fields, data) if isinstance(fields, dict) else []
    if method == "GET" and _LIST.search(route) and params and params.get("externalIds"):
        return _listed(params["externalIds"], data)
    return []


def _staged(body: dict[str, Any], data: Any) -> list[Mismatch]:
    out: list[Mismatch] = []
    settlement = lookup(data, "settlement")
    for name in ("externalId", "notes"):
        sent = body.get(name, MISSING)
        answered = lookup(settlement, name)
        if sent != answered:
            out.append((f"settlement.{name} does not echo the request", _show(sent), answered))
    sent_cutoff, answered_cutoff = body.get("cutoffAt"), lookup(settlement, "cutoffAt")
    if sent_cutoff is not None and not _same_instant(sent_cutoff, answered_cutoff):
        out.append(("settlement.cutoffAt is not the instant sent", sent_cutoff, answered_cutoff))
    return out


def _payload(fields: dict[str, Any], data: Any) -> list[Mismatch]:
    payload = lookup(data, "payload")
    expected = signing.canonical_payload(fields)
    if not isinstance(payload, str):
        return [("payload is not a string", expected, _show(payload))]
    try:
        parsed = signing.parse_payload(payload)
    except signing.PayloadNotJSON as exc:
        return [("payload is not the JSON of an object", expected, str(exc))]
    differ = signing.payload_mismatches(parsed, fields)
    if differ:
        return [(f"payload does not hold the fields sent ({', '.join(differ)})", expected, payload)]
    return []


def _listed(filter_values: Any, data: Any) -> list[Mismatch]:
    wanted = filter_values if isinstance(filter_values, list) else str(filter_values).split(",")
    found = lookup(data, "settlements.*.externalId")
    if not isinstance(found, list):
        return []
    stray = [value for value in found if value not in wanted]
    if stray:
        return [("settlements outside the externalIds filter", wanted, stray)]
    return []


def _query_fields(params: Mapping[str, Any]) -> dict[str, Any] | None:
    """The signed fields of the signing GET's query (settlementAmounts is JSON text)."""
    fields = dict(params)
    try:
        fields["settlementAmounts"] = json.loads(str(fields.get("settlementAmounts")))
    except ValueError:
        return None
    return fields


def _same_instant(sent: Any, answered: Any) -> bool:
    try:
        return _instant(str(sent)) == _instant(str(answered))
    except ValueError:
        return bool(sent == answered)


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))


def _show(value: Any) -> Any:
    return "absent" if value is MISSING else value
