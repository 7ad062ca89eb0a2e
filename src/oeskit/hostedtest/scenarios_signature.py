"""Scenarios of the X-BitGo-Signature checks: each forged token is refused 401 and creates
nothing, a replayed jti is refused, and (bodyBinding) a token made for another request is
refused."""

from __future__ import annotations

import uuid

from oeskit.hostedtest import rules
from oeskit.hostedtest.bitgo import Forgery, encode
from oeskit.hostedtest.scenario import Context, Scenario, Unobservable, scenario


@scenario(
    "signature-missing",
    "A call without X-BitGo-Signature is refused",
    (rules.SIG_MISSING,),
    tags="signature",
)
def missing(ctx: Context) -> None:
    ctx.refused(Forgery.MISSING, rules.SIG_MISSING)


@scenario(
    "signature-wrong-key",
    "An RS256 token by another key is refused",
    (rules.SIG_RS256,),
    tags="signature",
)
def wrong_key(ctx: Context) -> None:
    ctx.refused(Forgery.WRONG_KEY, rules.SIG_RS256)


@scenario(
    "signature-hs256-confusion",
    "An HS256 token keyed with BitGo's public key (algorithm confusion) is refused",
    (rules.SIG_RS256,),
    tags="signature",
)
def hs256(ctx: Context) -> None:
    ctx.refused(Forgery.HS256, rules.SIG_RS256)
    ctx.refused(Forgery.HS256_TRIMMED, rules.SIG_RS256)


@scenario(
    "signature-expired",
    "An expired token, or one issued in the future, is refused",
    (rules.SIG_EXPIRED,),
    tags="signature",
)
def expired(ctx: Context) -> None:
    ctx.refused(Forgery.EXPIRED, rules.SIG_EXPIRED)
    ctx.refused(Forgery.FUTURE, rules.SIG_EXPIRED)


@scenario(
    "signature-lifetime",
    "A token living more than 60 s after its iat is refused",
    (rules.SIG_LIFETIME,),
    tags="signature",
)
def lifetime(ctx: Context) -> None:
    ctx.refused(Forgery.LONG_LIVED, rules.SIG_LIFETIME)


@scenario(
    "signature-replayed-jti",
    "The same token sent twice is refused the second time",
    (rules.SIG_REPLAY,),
    tags="signature",
)
def replayed(ctx: Context) -> None:
    path = f"/bitgo/v1/allocation/{uuid.uuid4()}/clear"
    token = ctx.bitgo.token("PUT", path, b"")
    first = ctx.call("PUT", path, step="a signed clear of an unknown allocation", token=token)
    if first.status in (None, 401):
        raise Unobservable(f"the first use of a fresh token was not accepted ({first.status})")
    again = ctx.call("PUT", path, step="the same token again", token=token)
    ctx.status(again, 401, rules.SIG_REPLAY, "a token whose jti was seen before must be refused")


@scenario(
    "signature-bound-to-request",
    "A token made for another method, path or body is refused",
    (rules.SIG_BINDING,),
    needs=("bodyBinding",),
    tags="signature",
)
def bound(ctx: Context) -> None:
    conn = ctx.shared()
    body = ctx.record_body("allocation", conn, 1)
    path = "/bitgo/v1/allocations"
    other_body = encode({**body, "amount": {**body["amount"], "quantity": "1000"}})
    for name, signed_as in (
        ("another body", ("POST", path, other_body)),
        ("another path", ("POST", "/bitgo/v1/deallocations", encode(body))),
        ("another method", ("PUT", path, encode(body))),
    ):
        answer = ctx.post(
            "allocation", body, f"POST with a token made for {name}", signed_as=signed_as
        )
        if ctx.status(answer, 401, rules.SIG_BINDING, f"a token made for {name} must be refused"):
            ctx.nothing_created(body, rules.SIG_BINDING, f"a token for {name}")


SCENARIOS: tuple[Scenario, ...] = (missing, wrong_key, hs256, expired, lifetime, replayed, bound)
