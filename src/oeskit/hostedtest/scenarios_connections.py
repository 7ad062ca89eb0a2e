"""Scenarios of POST /bitgo/v1/connections and of request bodies: a new account is linked once
(the run's shared connection), retried identically, refused when reused, unknown or foreign,
and every POST refuses a malformed body with 400."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from oeskit.hostedtest import rules
from oeskit.hostedtest.scenario import CONNECTIONS, Context, Scenario, Unobservable, scenario


@scenario(
    "connection-created",
    "A new account's token links it to the connection; the partner answers its own ids",
    (rules.CON_CREATED,),
    tags="connections",
)
def created(ctx: Context) -> None:
    body = ctx.connection_request(ctx.take_token())
    answer = ctx.call("POST", CONNECTIONS, body, step="connect a new account")
    ok = ctx.status(answer, 200, rules.CON_CREATED, "a new account's connection is accepted")
    if ok:
        ok = ctx.echoed(answer, ("clientId", "connectionId"), body, rules.CON_CREATED)
        for name in ("partnersClientId", "partnersConnectionId"):
            ok = ctx.has_text(answer, name, rules.CON_CREATED, f"the partner names {name}") and ok
    if ok:
        ctx.state.shared = ctx.accepted_connection(answer, body)
    else:
        ctx.state.shared_failure = "the partner did not accept a connection (connection-created)"


@scenario(
    "connection-retried",
    "The same connection request again answers 200 with the same partner ids",
    (rules.IDEM_RETRY,),
    tags="connections idempotency",
)
def retried(ctx: Context) -> None:
    conn = ctx.shared()
    for attempt in (1, 2):
        answer = ctx.call(
            "POST", CONNECTIONS, conn.request, step=f"the same request, retry {attempt}"
        )
        if not ctx.status(answer, 200, rules.IDEM_RETRY, "an identical retry answers 200"):
            return
        ctx.equal(
            answer,
            "partnersConnectionId",
            conn.partners_connection_id,
            rules.IDEM_RETRY,
            "a retry answers the stored partnersConnectionId",
        )
        ctx.equal(
            answer,
            "partnersClientId",
            conn.partners_client_id,
            rules.IDEM_RETRY,
            "a retry answers the stored partnersClientId",
        )


@scenario(
    "connection-id-reused",
    "A known connectionId with another client is refused with 409",
    (rules.IDEM_CONFLICT,),
    tags="connections idempotency",
)
def reused(ctx: Context) -> None:
    conn = ctx.shared()
    body = {**conn.request, "clientId": str(uuid.uuid4())}
    answer = ctx.call("POST", CONNECTIONS, body, step="the same connectionId, another clientId")
    ctx.status(answer, 409, rules.IDEM_CONFLICT, "a known connectionId with other properties")


@scenario(
    "connection-one-per-account",
    "A second connection for an account already connected is refused with 409",
    (rules.CON_ONE_PER_ACCOUNT,),
    tags="connections",
)
def one_per_account(ctx: Context) -> None:
    conn = ctx.shared()
    body = {**conn.request, "clientId": str(uuid.uuid4()), "connectionId": str(uuid.uuid4())}
    answer = ctx.call("POST", CONNECTIONS, body, step="the connected account's token, new ids")
    ctx.status(answer, 409, rules.CON_ONE_PER_ACCOUNT, "an account takes one connection")


@scenario(
    "connection-unknown-token",
    "A connection token the partner never issued is refused with 422",
    (rules.CON_UNKNOWN_TOKEN,),
    tags="connections",
)
def unknown_token(ctx: Context) -> None:
    body = ctx.connection_request(f"oeskit-unknown-{secrets.token_hex(8)}")
    answer = ctx.call("POST", CONNECTIONS, body, step="a token the partner never issued")
    ctx.status(answer, 422, rules.CON_UNKNOWN_TOKEN, "an unknown connection token is refused")


@scenario(
    "connection-foreign-partner",
    "A connection request for another partnerId is refused with 400",
    (rules.REQ_PARTNER,),
    tags="connections request",
)
def foreign_partner(ctx: Context) -> None:
    body = ctx.connection_request(f"oeskit-unknown-{secrets.token_hex(8)}")
    body["partnerId"] = str(uuid.uuid4())
    answer = ctx.call("POST", CONNECTIONS, body, step="another partner's id")
    ctx.status(answer, 400, rules.REQ_PARTNER, "a partnerId that is not the partner's own")


@scenario(
    "connection-unknown",
    "An allocation naming an unknown connection, or other partner ids, is refused with 404",
    (rules.CON_UNKNOWN,),
    tags="connections allocations",
)
def unknown_connection(ctx: Context) -> None:
    conn = ctx.shared()
    good = ctx.record_body("allocation", conn, 1)
    for name, change in (
        ("an unknown connectionId", {"connectionId": str(uuid.uuid4())}),
        (
            "another partnersConnectionId",
            {"partnersConnectionId": f"x-{conn.partners_connection_id}"},
        ),
        ("another partnersClientId", {"partnersClientId": f"x-{conn.partners_client_id}"}),
        ("another clientId", {"clientId": str(uuid.uuid4())}),
    ):
        body = {**good, "allocationId": str(uuid.uuid4()), **change}
        answer = ctx.post("allocation", body, f"allocate on {name}")
        ctx.status(answer, 404, rules.CON_UNKNOWN, f"an allocation on {name} is refused")
    body = {**ctx.record_body("deallocation", conn, 1), "connectionId": str(uuid.uuid4())}
    answer = ctx.post("deallocation", body, "deallocate on an unknown connectionId")
    ctx.status(answer, 404, rules.CON_UNKNOWN, "a deallocation on an unknown connection")


def _malformed(ctx: Context) -> list[tuple[str, str, Any]]:
    conn = ctx.state.shared
    if conn is None:
        raise Unobservable(ctx.state.shared_failure or "the shared connection is not open")
    alloc = ctx.record_body("allocation", conn, 1)
    dealloc = ctx.record_body("deallocation", conn, 1)
    request = ctx.connection_request(f"oeskit-unknown-{secrets.token_hex(8)}")
    out: list[tuple[str, str, Any]] = [
        ("connections", "a body that is not JSON", b"{not json"),
        ("connections", "a JSON array", b"[]"),
        (
            "connections",
            "no connectionToken",
            {k: v for k, v in request.items() if k != "connectionToken"},
        ),
        ("connections", "a clientId that is not a UUID", {**request, "clientId": "client-1"}),
        ("allocations", "no amount", {k: v for k, v in alloc.items() if k != "amount"}),
        (
            "deallocations",
            "no deallocationId",
            {k: v for k, v in dealloc.items() if k != "deallocationId"},
        ),
        ("allocations", "an allocationId that is not a UUID", {**alloc, "allocationId": "a-1"}),
    ]
    for quantity in ("1.5", "0", "-1", "", "1e3", 5):
        for kind, body in (("allocations", alloc), ("deallocations", dealloc)):
            amount = {"currency": ctx.profile.currency, "quantity": quantity}
            out.append((kind, f"quantity {quantity!r}", {**body, "amount": amount}))
    out.append(
        ("allocations", "an empty currency", {**alloc, "amount": {"currency": "", "quantity": "1"}})
    )
    return out


@scenario(
    "request-malformed",
    "A body that is not JSON or breaks the schema (quantity a positive integer string) is "
    "refused with 400",
    (rules.REQ_MALFORMED,),
    tags="request",
)
def malformed(ctx: Context) -> None:
    for route, name, body in _malformed(ctx):
        answer = ctx.call("POST", f"/bitgo/v1/{route}", body, step=f"{route}: {name}")
        ctx.status(answer, 400, rules.REQ_MALFORMED, f"POST /bitgo/v1/{route} with {name}")


SCENARIOS: tuple[Scenario, ...] = (
    created,
    retried,
    reused,
    one_per_account,
    unknown_token,
    foreign_partner,
    unknown_connection,
    malformed,
)
