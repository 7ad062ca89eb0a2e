"""The rules of the sandbox's allocations and deallocations toward a partner, without HTTP or a
store: what a new record may be, what each partner answer makes of it, and the balance change."""

from __future__ import annotations

import pytest

from oeskit.domain import allocation_flow as flow
from oeskit.domain.allocation_flow import Kind, PartnerAnswer, Status, Step
from oeskit.domain.model import Balance, Connection, Currency, Partner
from oeskit.errors import RuleViolation

BTC = Currency("BTC", "ofcbtc", 8)
PARTNER = Partner("p", "ent", "P", True, False, 60, 30, "baseUnits", False, "go", (BTC,), ())
CONNECTION = Connection("c", "p", "client", "net", "go-client", True)
NOW = "2026-11-01T00:00:00.000Z"


def _start(
    kind: Kind, quantity: int = 100, available: int = 1_000
) -> tuple[flow.AllocationRecord, int]:
    return flow.start(
        record_id="r",
        kind=kind,
        partner=PARTNER,
        connection=CONNECTION,
        currency=BTC,
        quantity=quantity,
        balance=Balance(available, 0),
        client_external_id="x",
        initiated_by="sandbox",
        now=NOW,
    )


def test_an_allocation_starts_reserved_and_moves_nothing() -> None:
    """A new allocation is reserved, its POST still to send; the balance waits for the clear."""
    record, delta = _start(Kind.ALLOCATION)
    assert (record.status, record.step, delta) == (Status.RESERVED, Step.RESERVE, 0)
    assert (record.currency, record.partner_currency) == ("ofcbtc", "BTC")


def test_a_deallocation_takes_its_amount_at_once_and_never_more_than_available() -> None:
    """The deallocation's amount leaves `available` when it starts; beyond it is OES-SBX-009."""
    assert _start(Kind.DEALLOCATION, 1_000)[1] == -1_000
    with pytest.raises(RuleViolation) as refused:
        _start(Kind.DEALLOCATION, 1_001)
    assert refused.value.rule == "OES-SBX-009"
    assert refused.value.extra == {"available": "1000", "required": "1001"}


@pytest.mark.parametrize(
    ("kind", "answer", "asynchronous", "status", "step", "delta"),
    [
        (Kind.ALLOCATION, "reserved", False, Status.RESERVED, Step.CLEAR, 0),
        (Kind.ALLOCATION, "reserved", True, Status.RESERVED, Step.AWAIT, 0),
        (Kind.ALLOCATION, "rejected", False, Status.RELEASED, Step.DONE, 0),
        (Kind.ALLOCATION, "cleared", False, Status.CLEARED, Step.DONE, 100),
        (Kind.DEALLOCATION, "rejected", False, Status.RELEASED, Step.DONE, 100),
        (Kind.DEALLOCATION, "cleared", False, Status.CLEARED, Step.DONE, 0),
    ],
    ids=[
        "reserved-sync",
        "reserved-async",
        "rejected-allocation",
        "cleared-allocation",
        "rejected-deallocation-gives-back",
        "cleared-deallocation",
    ],
)
def test_each_answer_to_the_post(
    kind: Kind, answer: str, asynchronous: bool, status: Status, step: Step, delta: int
) -> None:
    """What the partner's answer makes of the record, and the change to `available`."""
    record, _ = _start(kind)
    reason = "closed" if answer == "rejected" else None
    moved, change = flow.after_reserve(
        record, PartnerAnswer(answer, "p-1", reason), asynchronous, NOW
    )
    assert (moved.status, moved.step, change) == (status, step, delta)
    assert moved.partner_external_id == "p-1"
    assert moved.reason == ("closed" if answer == "rejected" else moved.reason)


def test_a_failure_keeps_the_record_reserved_and_resumable() -> None:
    """Every attempt failed: reserved, retriable, the reason kept; the same step resumes."""
    record, _ = _start(Kind.ALLOCATION)
    failed = flow.after_failure(record, "HTTP 500 after 3 attempt(s)", NOW)
    assert (failed.status, failed.step, failed.retriable) == (Status.RESERVED, Step.RESERVE, True)
    assert flow.resumable(failed)
    done, _ = flow.finish(failed, Status.CLEARED, None, NOW)
    assert not flow.resumable(done) and not done.retriable


@pytest.mark.parametrize(
    "url",
    ["ftp://x", "http://", "http://h:99999", "http://h/?q=1", "http://h/#f", "http://h/é"],
)
def test_base_urls_the_sandbox_cannot_call_are_refused(url: str) -> None:
    """A partner's base URL is http(s), with a host and a valid port, without query or fragment."""
    with pytest.raises(RuleViolation) as refused:
        flow.check_base_url(url)
    assert refused.value.rule == "OES-SBX-002"


def test_a_currency_is_named_by_either_code() -> None:
    """The BitGo code or the partner's own names the same currency; another is OES-SBX-002."""
    assert flow.resolve_currency(PARTNER, "ofcbtc") == flow.resolve_currency(PARTNER, "BTC")
    with pytest.raises(RuleViolation):
        flow.resolve_currency(PARTNER, "ETH")
