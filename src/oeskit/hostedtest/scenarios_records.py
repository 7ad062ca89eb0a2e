"""Scenarios of POST /bitgo/v1/allocations and /deallocations, observed from outside through
the free balance: a deallocation one unit above it is rejected, one of exactly it is reserved.
Each balance scenario opens a connection of its own (a new, empty account)."""

from __future__ import annotations

import uuid

from oeskit.hostedtest import rules
from oeskit.hostedtest.bitgo import Answer
from oeskit.hostedtest.scenario import (
    FACT_CREDIT,
    FACT_FREE_BALANCE,
    Context,
    Scenario,
    scenario,
)

AMOUNT = 1000
RACERS = 8


@scenario(
    "allocation-cleared-credits",
    "Clearing an allocation credits its amount: a deallocation of all of it is reserved",
    (rules.ALC_CLEARED,),
    tags="allocations balances",
)
def cleared_credits(ctx: Context) -> None:
    conn = ctx.connect()
    body = ctx.record_body("allocation", conn, AMOUNT)
    ctx.setup(ctx.post("allocation", body, f"allocate {AMOUNT}"), "reserved")
    clear = ctx.put("allocation", body["allocationId"], "clear", "clear it")
    if not ctx.status(clear, 200, rules.ALC_CLEARED, "a reserved allocation is cleared"):
        return
    ctx.equal(clear, "status", "cleared", rules.ALC_CLEARED, "it is cleared")
    whole = ctx.post(
        "deallocation", ctx.record_body("deallocation", conn, AMOUNT), f"deallocate all {AMOUNT}"
    )
    if ctx.status(whole, 200, rules.ALC_CLEARED, "a deallocation is answered"):
        ctx.equal(
            whole,
            "status",
            "reserved",
            rules.ALC_CLEARED,
            "the cleared amount is free to deallocate",
        )
    if not ctx.failed():
        ctx.state.facts.add(FACT_CREDIT)


@scenario(
    "deallocation-beyond-free-balance",
    "A deallocation above the free balance is rejected with a reason and holds nothing",
    (rules.DEA_REJECTED,),
    tags="deallocations balances",
)
def beyond_free(ctx: Context) -> None:
    conn = ctx.connect()
    ctx.fund(conn, AMOUNT)
    over = ctx.post(
        "deallocation",
        ctx.record_body("deallocation", conn, AMOUNT + 1),
        f"deallocate {AMOUNT + 1} of {AMOUNT}",
    )
    if not ctx.status(over, 200, rules.DEA_REJECTED, "a deallocation above the free balance"):
        return
    ctx.equal(over, "status", "rejected", rules.DEA_REJECTED, "it is rejected")
    ctx.has_text(over, "rejectionReason", rules.DEA_REJECTED, "a rejection says why")
    exact = ctx.post(
        "deallocation",
        ctx.record_body("deallocation", conn, AMOUNT),
        f"deallocate all {AMOUNT}: the rejected one held nothing",
    )
    if ctx.status(exact, 200, rules.DEA_REJECTED, "the whole free balance can be deallocated"):
        ctx.equal(
            exact,
            "status",
            "reserved",
            rules.DEA_REJECTED,
            "the rejected deallocation held nothing",
        )
    if not ctx.failed():
        ctx.state.facts.add(FACT_FREE_BALANCE)


@scenario(
    "deallocation-holds",
    "A reserved deallocation holds its amount: the free balance drops at once",
    (rules.DEA_HOLDS,),
    tags="deallocations balances",
)
def holds(ctx: Context) -> None:
    conn = ctx.connect()
    ctx.fund(conn, AMOUNT)
    hold = ctx.post("deallocation", ctx.record_body("deallocation", conn, 400), "hold 400")
    if ctx.status(hold, 200, rules.DEA_HOLDS, "a covered deallocation is accepted"):
        ctx.equal(hold, "status", "reserved", rules.DEA_HOLDS, "it is reserved")
        ctx.free_balance_is(conn, AMOUNT - 400, rules.DEA_HOLDS, "the hold left the free balance")


@scenario(
    "allocation-reserved",
    "A new allocation is reserved, echoes the request, and credits nothing until cleared",
    (rules.ALC_RESERVED,),
    tags="allocations balances",
)
def reserved(ctx: Context) -> None:
    conn = ctx.connect()
    body = ctx.record_body("allocation", conn, AMOUNT)
    answer = ctx.post("allocation", body, f"allocate {AMOUNT}")
    if not ctx.status(answer, 200, rules.ALC_RESERVED, "a new allocation is accepted"):
        return
    ok = ctx.equal(answer, "status", "reserved", rules.ALC_RESERVED, "it is reserved")
    ok = ctx.echoed(answer, body, body, rules.ALC_RESERVED) and ok
    if not ok:
        return
    ctx.free_balance_is(conn, 0, rules.ALC_RESERVED, "a reserved allocation credits nothing")


def _same_record(ctx: Context, answers: list[Answer], first: Answer, rule: str) -> bool:
    ids = {a.get("partnersAllocationId") for a in answers}
    if len(ids) != 1:
        ctx.fail(
            rule,
            "one allocationId, one partner allocation",
            "one partnersAllocationId",
            f"{len(ids)} different: {sorted(map(str, ids))}",
            answers[-1],
        )
        return False
    return ctx.equal(first, "status", "reserved", rule, "the stored allocation is reserved")


@scenario(
    "allocation-retried",
    "An allocation sent three times is one allocation, credited once when cleared",
    (rules.IDEM_RETRY,),
    tags="allocations idempotency balances",
)
def retried(ctx: Context) -> None:
    conn = ctx.connect()
    body = ctx.record_body("allocation", conn, AMOUNT)
    answers = [ctx.post("allocation", body, f"allocate {AMOUNT}, attempt {n}") for n in (1, 2, 3)]
    for answer in answers:
        if not ctx.status(answer, 200, rules.IDEM_RETRY, "an identical retry answers 200"):
            return
    if _same_record(ctx, answers, answers[0], rules.IDEM_RETRY):
        ctx.setup(ctx.put("allocation", body["allocationId"], "clear", "clear it"), "cleared")
        ctx.free_balance_is(conn, AMOUNT, rules.IDEM_RETRY, "the retries credited once")
    dealloc = ctx.record_body("deallocation", conn, 10 * AMOUNT)
    first = ctx.post("deallocation", dealloc, "a deallocation the balance cannot cover")
    again = ctx.post("deallocation", dealloc, "the same deallocation again")
    if ctx.status(again, 200, rules.IDEM_RETRY, "an identical deallocation retry answers 200"):
        for name in ("status", "partnersDeallocationId"):
            ctx.equal(
                again,
                name,
                first.get(name),
                rules.IDEM_RETRY,
                f"the retry answers the stored {name}",
            )


@scenario(
    "allocation-racing",
    f"{RACERS} identical allocations at once make one allocation, credited once",
    (rules.IDEM_RACE,),
    tags="allocations idempotency balances",
)
def racing(ctx: Context) -> None:
    conn = ctx.connect()
    body = ctx.record_body("allocation", conn, AMOUNT)
    answers = ctx.race(
        "POST", "/bitgo/v1/allocations", body, RACERS, f"allocate {AMOUNT}, {RACERS} at once"
    )
    for answer in answers:
        if not ctx.status(answer, 200, rules.IDEM_RACE, "every racing duplicate answers 200"):
            return
    if _same_record(ctx, answers, answers[0], rules.IDEM_RACE):
        ctx.setup(ctx.put("allocation", body["allocationId"], "clear", "clear it"), "cleared")
        ctx.free_balance_is(conn, AMOUNT, rules.IDEM_RACE, "the racing duplicates credited once")


@scenario(
    "allocation-cleared-sent-again",
    "A cleared allocation sent again stays cleared and credits nothing more",
    (rules.IDEM_SETTLED,),
    tags="allocations idempotency balances",
)
def cleared_again(ctx: Context) -> None:
    conn = ctx.connect()
    body = ctx.fund(conn, AMOUNT)
    again = ctx.post("allocation", body, "the cleared allocation sent again")
    if not ctx.status(again, 200, rules.IDEM_SETTLED, "a settled allocation sent again"):
        return
    if ctx.equal(again, "status", "cleared", rules.IDEM_SETTLED, "it stays cleared"):
        ctx.free_balance_is(conn, AMOUNT, rules.IDEM_SETTLED, "nothing was reserved again")


@scenario(
    "allocation-released-sent-again",
    "A released allocation sent again stays released",
    (rules.IDEM_SETTLED,),
    needs=("release",),
    tags="allocations idempotency",
)
def released_again(ctx: Context) -> None:
    conn = ctx.shared()
    body = ctx.record_body("allocation", conn, AMOUNT)
    ctx.setup(ctx.post("allocation", body, "allocate"), "reserved")
    ctx.setup(ctx.put("allocation", body["allocationId"], "release", "release it"), "released")
    again = ctx.post("allocation", body, "the released allocation sent again")
    if ctx.status(again, 200, rules.IDEM_SETTLED, "a settled allocation sent again"):
        ctx.equal(again, "status", "released", rules.IDEM_SETTLED, "it stays released")


@scenario(
    "id-other-properties",
    "A known allocation or deallocation id with other properties is refused with 409",
    (rules.IDEM_CONFLICT,),
    tags="idempotency",
)
def other_properties(ctx: Context) -> None:
    conn = ctx.shared()
    for kind in ("allocation", "deallocation"):
        body = ctx.record_body(kind, conn, 7)
        ctx.setup(ctx.post(kind, body, f"a new {kind}"), "reserved", "rejected")
        changed = {**body, "amount": {**body["amount"], "quantity": "8"}}
        answer = ctx.post(kind, changed, f"the same {kind}Id, another amount")
        ctx.status(answer, 409, rules.IDEM_CONFLICT, f"a known {kind}Id with other properties")


@scenario(
    "id-shared-index",
    "An id held by an allocation is refused for a deallocation, and the other way round",
    (rules.IDEM_SHARED_INDEX,),
    tags="idempotency",
)
def shared_index(ctx: Context) -> None:
    conn = ctx.shared()
    for kind, other in (("allocation", "deallocation"), ("deallocation", "allocation")):
        record_id = str(uuid.uuid4())
        ctx.setup(
            ctx.post(kind, ctx.record_body(kind, conn, 5, record_id), f"a new {kind}"),
            "reserved",
            "rejected",
        )
        answer = ctx.post(
            other, ctx.record_body(other, conn, 5, record_id), f"a {other} with the {kind}'s id"
        )
        ctx.status(
            answer, 409, rules.IDEM_SHARED_INDEX, f"an id a {kind} holds is refused for a {other}"
        )


SCENARIOS: tuple[Scenario, ...] = (
    cleared_credits,
    beyond_free,
    holds,
    reserved,
    retried,
    racing,
    cleared_again,
    released_again,
    other_properties,
    shared_index,
)
