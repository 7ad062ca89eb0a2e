"""Scenarios of the clear and release PUTs: unknown ids, state conflicts, repeats that change
nothing, bodies ignored, and what clearing or releasing a deallocation or releasing an
allocation does to the free balance."""

from __future__ import annotations

import uuid

from oeskit.hostedtest import rules
from oeskit.hostedtest.scenario import Context, Scenario, scenario
from oeskit.hostedtest.scenarios_records import AMOUNT

# More than any account holds: a deallocation of it is rejected.
UNCOVERABLE = 10**30


def _actions(ctx: Context) -> tuple[str, ...]:
    return ("clear", "release") if "release" in ctx.profile.capabilities else ("clear",)


@scenario(
    "put-unknown-id",
    "A clear or release of an id the partner never saw is refused with 404",
    (rules.PUT_UNKNOWN,),
    tags="lifecycle",
)
def unknown_id(ctx: Context) -> None:
    for kind in ("allocation", "deallocation"):
        for action in _actions(ctx):
            answer = ctx.put(kind, str(uuid.uuid4()), action, f"{action} an unknown {kind}")
            ctx.status(answer, 404, rules.PUT_UNKNOWN, f"{action} of an unknown {kind}")


@scenario(
    "put-state-conflict",
    "Clear after release, release after clear, and either on a rejected deallocation are "
    "refused with 409",
    (rules.PUT_STATE,),
    tags="lifecycle",
)
def state_conflict(ctx: Context) -> None:
    conn = ctx.shared()
    rejected = ctx.record_body("deallocation", conn, UNCOVERABLE)
    ctx.setup(ctx.post("deallocation", rejected, "a deallocation no balance covers"), "rejected")
    for action in _actions(ctx):
        answer = ctx.put(
            "deallocation",
            rejected["deallocationId"],
            action,
            f"{action} the rejected deallocation",
        )
        ctx.status(answer, 409, rules.PUT_STATE, f"{action} of a rejected deallocation")
    if "release" not in ctx.profile.capabilities:
        return
    for first, then in (("clear", "release"), ("release", "clear")):
        body = ctx.record_body("allocation", conn, 3)
        ctx.setup(ctx.post("allocation", body, "allocate"), "reserved")
        done = "cleared" if first == "clear" else "released"
        ctx.setup(ctx.put("allocation", body["allocationId"], first, f"{first} it"), done)
        answer = ctx.put("allocation", body["allocationId"], then, f"{then} it after {first}")
        ctx.status(answer, 409, rules.PUT_STATE, f"{then} after {first}")


@scenario(
    "put-repeated",
    "Clearing a cleared allocation (or releasing a released one) answers 200 and changes nothing",
    (rules.PUT_AGAIN,),
    tags="lifecycle balances",
)
def repeated(ctx: Context) -> None:
    conn = ctx.connect()
    body = ctx.fund(conn, AMOUNT)
    again = ctx.put("allocation", body["allocationId"], "clear", "clear it again")
    if ctx.status(again, 200, rules.PUT_AGAIN, "a second clear answers 200"):
        ctx.equal(again, "status", "cleared", rules.PUT_AGAIN, "it is still cleared")
    if "release" in ctx.profile.capabilities:
        other = ctx.record_body("allocation", conn, 5)
        ctx.setup(ctx.post("allocation", other, "allocate 5"), "reserved")
        ctx.setup(ctx.put("allocation", other["allocationId"], "release", "release it"), "released")
        answer = ctx.put("allocation", other["allocationId"], "release", "release it again")
        if ctx.status(answer, 200, rules.PUT_AGAIN, "a second release answers 200"):
            ctx.equal(answer, "status", "released", rules.PUT_AGAIN, "it is still released")
    ctx.free_balance_is(conn, AMOUNT, rules.PUT_AGAIN, "the second clear credited nothing")


@scenario(
    "put-body-ignored",
    "Clear and release ignore a body that is sent",
    (rules.PUT_BODY,),
    tags="lifecycle",
)
def body_ignored(ctx: Context) -> None:
    conn = ctx.shared()
    asks = [("clear", {"status": "released"}, "cleared")]
    if "release" in ctx.profile.capabilities:
        asks.append(("release", {"status": "cleared"}, "released"))
    for action, sent, outcome in asks:
        body = ctx.record_body("allocation", conn, 2)
        ctx.setup(ctx.post("allocation", body, "allocate"), "reserved")
        answer = ctx.call(
            "PUT",
            f"/bitgo/v1/allocation/{body['allocationId']}/{action}",
            sent,
            step=f"{action} with the body {sent}",
        )
        if ctx.status(answer, 200, rules.PUT_BODY, f"{action} with a body answers 200"):
            ctx.equal(answer, "status", outcome, rules.PUT_BODY, "the body is ignored")


@scenario(
    "deallocation-cleared",
    "Clearing a held deallocation debits the held amount, once",
    (rules.DEA_CLEARED,),
    tags="deallocations balances",
)
def deallocation_cleared(ctx: Context) -> None:
    conn = ctx.connect()
    ctx.fund(conn, AMOUNT)
    body = ctx.record_body("deallocation", conn, 400)
    ctx.setup(ctx.post("deallocation", body, "hold 400"), "reserved")
    answer = ctx.put("deallocation", body["deallocationId"], "clear", "clear the deallocation")
    if ctx.status(answer, 200, rules.DEA_CLEARED, "a held deallocation is cleared"):
        ctx.equal(answer, "status", "cleared", rules.DEA_CLEARED, "it is cleared")
        ctx.free_balance_is(
            conn, AMOUNT - 400, rules.DEA_CLEARED, "the clear debited the held amount"
        )


@scenario(
    "allocation-released",
    "Releasing a reserved allocation cancels it; nothing is credited",
    (rules.ALC_RELEASED,),
    needs=("release",),
    tags="allocations balances",
)
def allocation_released(ctx: Context) -> None:
    conn = ctx.connect()
    body = ctx.record_body("allocation", conn, AMOUNT)
    ctx.setup(ctx.post("allocation", body, f"allocate {AMOUNT}"), "reserved")
    answer = ctx.put("allocation", body["allocationId"], "release", "release the allocation")
    if ctx.status(answer, 200, rules.ALC_RELEASED, "a reserved allocation is released"):
        ctx.equal(answer, "status", "released", rules.ALC_RELEASED, "it is released")
        ctx.free_balance_is(conn, 0, rules.ALC_RELEASED, "the release credited nothing")


@scenario(
    "deallocation-released",
    "Releasing a held deallocation returns the hold to the free balance",
    (rules.DEA_RELEASED,),
    needs=("release",),
    tags="deallocations balances",
)
def deallocation_released(ctx: Context) -> None:
    conn = ctx.connect()
    ctx.fund(conn, AMOUNT)
    body = ctx.record_body("deallocation", conn, 400)
    ctx.setup(ctx.post("deallocation", body, "hold 400"), "reserved")
    answer = ctx.put("deallocation", body["deallocationId"], "release", "release the hold")
    if ctx.status(answer, 200, rules.DEA_RELEASED, "a held deallocation is released"):
        ctx.equal(answer, "status", "released", rules.DEA_RELEASED, "it is released")
        ctx.free_balance_is(conn, AMOUNT, rules.DEA_RELEASED, "the hold came back")


SCENARIOS: tuple[Scenario, ...] = (
    unknown_id,
    state_conflict,
    repeated,
    body_ignored,
    deallocation_cleared,
    allocation_released,
    deallocation_released,
)
