"""What a hosted-test scenario is and what it can do: call the partner as BitGo, open
connections from the profile's tokens, fund an account, observe its free balance, and record
findings (data, never exceptions) with the exchange as evidence."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from oeskit.hostedtest.bitgo import Answer, BitGo, Forgery
from oeskit.hostedtest.profile import HostedProfile, Tokens
from oeskit.reports.model import Exchange, Finding, Status

CONNECTIONS = "/bitgo/v1/connections"
# Facts a passed scenario establishes, which others observe through.
FACT_CREDIT = "clear-credits"  # allocation-cleared-credits: a clear credits the amount
FACT_FREE_BALANCE = "free-balance"  # deallocation-beyond-free-balance: overdraws are rejected


class Unobservable(Exception):
    """The scenario cannot observe what it checks (no token left, a set-up call refused, a
    fact it relies on not established): SKIPPED with this reason unless something FAILED."""


@dataclass(frozen=True, slots=True)
class Scenario:
    id: str
    title: str
    rules: tuple[str, ...]
    body: Callable[[Context], None]
    needs: frozenset[str] = frozenset()
    tags: tuple[str, ...] = ()


def scenario(
    id: str, title: str, rules: tuple[str, ...], *, needs: tuple[str, ...] = (), tags: str = ""
) -> Callable[[Callable[[Context], None]], Scenario]:
    """Declare a scenario: its id, what it shows, the catalogue rules it checks."""

    def wrap(body: Callable[[Context], None]) -> Scenario:
        return Scenario(id, title, rules, body, frozenset(needs), tuple(tags.split()))

    return wrap


@dataclass(frozen=True, slots=True)
class Connection:
    """A connection the partner accepted: BitGo's ids, the partner's, and the request."""

    client_id: str
    connection_id: str
    partners_client_id: str
    partners_connection_id: str
    request: dict[str, Any] = field(repr=False)


@dataclass
class RunState:
    """What scenarios of one run share: the token budget, the shared connection, and the
    facts passed scenarios established (other scenarios observe through them)."""

    tokens: Tokens
    shared: Connection | None = None
    shared_failure: str | None = None
    facts: set[str] = field(default_factory=set)


class Context:
    def __init__(self, bitgo: BitGo, profile: HostedProfile, state: RunState) -> None:
        self.bitgo, self.profile, self.state = bitgo, profile, state
        self.findings: list[Finding] = []
        self.exchanges: list[Exchange] = []

    # ---- calls and findings ---------------------------------------------------------------

    def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Answer:
        answer = self.bitgo.call(method, path, body, **kwargs)
        self.exchanges.append(answer.exchange)
        return answer

    def race(self, method: str, path: str, body: Any, copies: int, step: str) -> list[Answer]:
        answers = self.bitgo.race(method, path, body, copies=copies, step=step)
        self.exchanges += [a.exchange for a in answers]
        return answers

    def fail(
        self, rule: str, message: str, expected: str, actual: str, answer: Answer | None
    ) -> None:
        exchange = answer.exchange if answer is not None else None
        step = exchange.step if exchange is not None else ""
        self.findings.append(
            Finding(Status.FAILED, rule, message, expected, actual, step, exchange)
        )

    def status(self, answer: Answer, expected: int, rule: str, what: str) -> bool:
        """Check the status; a refusal must also carry {"error": ...}. True when it held."""
        if answer.status != expected:
            shown = "no answer" if answer.status is None else str(answer.status)
            body = (answer.exchange.response_body or "")[:300]
            self.fail(rule, what, str(expected), f"{shown} {body}".strip(), answer)
            return False
        if expected >= 400 and not isinstance(answer.get("error"), str):
            self.fail(
                rule,
                f"{what}: the refusal has no error message",
                '{"error": "..."}',
                (answer.exchange.response_body or "")[:300],
                answer,
            )
            return False
        return True

    def echoed(self, answer: Answer, names: Iterable[str], sent: dict[str, Any], rule: str) -> bool:
        """The answer repeats what was sent. A field left out is not checked here: the
        operation's responses result reports it (PH-RSP-001), once."""
        ok = True
        for name in names:
            if isinstance(answer.data, dict) and name in answer.data:
                ok = self.equal(answer, name, sent[name], rule, f"{name} is echoed") and ok
        return ok

    def equal(self, answer: Answer, name: str, expected: Any, rule: str, what: str) -> bool:
        actual = answer.get(name)
        if actual != expected:
            self.fail(rule, what, f"{name} = {expected!r}", f"{name} = {actual!r}", answer)
            return False
        return True

    def has_text(self, answer: Answer, name: str, rule: str, what: str) -> bool:
        value = answer.get(name)
        if not (isinstance(value, str) and value):
            self.fail(rule, what, f"{name}: a non-empty string", f"{name} = {value!r}", answer)
            return False
        return True

    def failed(self) -> bool:
        return any(f.severity is Status.FAILED for f in self.findings)

    # ---- connections ------------------------------------------------------------------------

    def connection_request(self, token: str, **overrides: Any) -> dict[str, Any]:
        if self.profile.partner_id is None:
            raise Unobservable("the profile names no partnerId (the partner's BitGo id)")
        body = {
            "clientId": str(uuid.uuid4()),
            "connectionId": str(uuid.uuid4()),
            "connectionToken": token,
            "partnerId": self.profile.partner_id,
        }
        return {**body, **overrides}

    def take_token(self) -> str:
        token = self.state.tokens.take()
        if token is None:
            raise Unobservable(
                "no connection token left in the profile (connectionTokens: one new, empty "
                "account per connection the run opens)"
            )
        return token

    def connect(self, step: str = "open a connection") -> Connection:
        """A new connection on a new account (takes one token); Unobservable if refused."""
        body = self.connection_request(self.take_token())
        answer = self.call("POST", CONNECTIONS, body, step=step)
        return self.accepted_connection(answer, body)

    def accepted_connection(self, answer: Answer, body: dict[str, Any]) -> Connection:
        ids = (answer.get("partnersClientId"), answer.get("partnersConnectionId"))
        if answer.status != 200 or not all(isinstance(i, str) and i for i in ids):
            raise Unobservable(
                f"set-up: the partner did not accept a new connection ({answer.status})"
            )
        return Connection(body["clientId"], body["connectionId"], str(ids[0]), str(ids[1]), body)

    def shared(self) -> Connection:
        """The run's shared connection (opened by the scenario connection-created)."""
        if self.state.shared is None:
            raise Unobservable(
                self.state.shared_failure or "the shared connection has not been opened"
            )
        return self.state.shared

    # ---- allocations and deallocations --------------------------------------------------------

    def record_body(
        self, kind: str, conn: Connection, quantity: int, record_id: str | None = None
    ) -> dict[str, Any]:
        return {
            f"{kind}Id": record_id or str(uuid.uuid4()),
            "amount": {"currency": self.profile.currency, "quantity": str(quantity)},
            "clientId": conn.client_id,
            "connectionId": conn.connection_id,
            "partnersConnectionId": conn.partners_connection_id,
            "partnersClientId": conn.partners_client_id,
        }

    def post(self, kind: str, body: dict[str, Any], step: str, **kwargs: Any) -> Answer:
        return self.call("POST", f"/bitgo/v1/{kind}s", body, step=step, **kwargs)

    def put(self, kind: str, record_id: str, action: str, step: str, **kwargs: Any) -> Answer:
        return self.call("PUT", f"/bitgo/v1/{kind}/{record_id}/{action}", step=step, **kwargs)

    def setup(self, answer: Answer, *statuses: str) -> None:
        """A set-up call must have worked, or the scenario cannot observe anything."""
        if answer.status != 200 or answer.get("status") not in statuses:
            raise Unobservable(
                f"set-up: {answer.exchange.method} {answer.exchange.url} answered "
                f"{answer.status} with status {answer.get('status')!r}, not 200 "
                + " or ".join(map(repr, statuses))
            )

    def fund(self, conn: Connection, quantity: int) -> dict[str, Any]:
        """Allocate `quantity` and clear it: the account's free balance grows by it (known
        once allocation-cleared-credits passed)."""
        if FACT_CREDIT not in self.state.facts:
            raise Unobservable(
                "accounts are funded by clearing allocations, and the scenario "
                "allocation-cleared-credits did not pass"
            )
        body = self.record_body("allocation", conn, quantity)
        self.setup(self.post("allocation", body, "fund: allocate"), "reserved")
        self.setup(self.put("allocation", body["allocationId"], "clear", "fund: clear"), "cleared")
        return body

    def balance_observable(self) -> bool:
        return FACT_FREE_BALANCE in self.state.facts

    def free_balance_is(self, conn: Connection, quantity: int, rule: str, why: str) -> None:
        """Observe the free balance: a deallocation of one unit more than `quantity` is
        rejected, one of exactly `quantity` is accepted (and holds it)."""
        if FACT_FREE_BALANCE not in self.state.facts:
            raise Unobservable(
                "the free balance is observed through deallocations, and the scenario "
                "deallocation-beyond-free-balance did not pass"
            )
        over = self.post(
            "deallocation",
            self.record_body("deallocation", conn, quantity + 1),
            f"{why}: deallocate {quantity + 1}",
        )
        if over.status == 200 and over.get("status") != "rejected":
            self.fail(
                rule,
                f"{why}: the free balance is more than {quantity}",
                f"a deallocation of {quantity + 1} rejected",
                f"status {over.get('status')!r}",
                over,
            )
            return
        self.setup(over, "rejected")
        if quantity == 0:
            return
        exact = self.post(
            "deallocation",
            self.record_body("deallocation", conn, quantity),
            f"{why}: deallocate {quantity}",
        )
        if exact.status == 200 and exact.get("status") != "reserved":
            self.fail(
                rule,
                f"{why}: the free balance is less than {quantity}",
                f"a deallocation of {quantity} reserved",
                f"status {exact.get('status')!r}",
                exact,
            )
            return
        self.setup(exact, "reserved")

    def refused(self, forgery: Forgery, rule: str) -> None:
        """A request with this forged token is refused 401 and changes nothing."""
        conn = self.state.shared
        body = (
            self.record_body("allocation", conn, 1)
            if conn is not None
            else {"allocationId": str(uuid.uuid4())}
        )
        answer = self.post("allocation", body, f"POST with {forgery.value}", forgery=forgery)
        if not self.status(answer, 401, rule, f"{forgery.value} must be refused with 401"):
            return
        self.nothing_created(body, rule, forgery.value)

    def nothing_created(self, body: dict[str, Any], rule: str, how: str) -> None:
        """The refused allocation's id is still free: a signed allocation with that id and
        another amount is accepted. Only a 409 (the id is taken) is decisive."""
        if self.state.shared is None:
            return
        other = {**body, "amount": {**body["amount"], "quantity": "2"}}
        probe = self.post("allocation", other, "its allocationId is still free")
        if probe.status == 409:
            self.fail(
                rule,
                f"a request with {how} created the allocation",
                "200: the id is still free",
                "409: the id is taken",
                probe,
            )
