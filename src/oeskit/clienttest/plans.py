"""The client-test plans as data: what each arms on the sandbox, the task it gives the client,
what the outcome must be, and the client rules (`x-oeskit-client-rules`) it checks. No I/O."""

from __future__ import annotations

from dataclasses import dataclass

from oeskit import signing

# Client rule ids; their statements live in openapi.yaml `x-oeskit-client-rules`.
SIGNATURE = "OES-CLI-001"
PAYLOAD = "OES-CLI-002"
NONCE = "OES-CLI-003"
EXTERNAL_ID = "OES-CLI-004"
CONTENT_TYPE = "OES-CLI-005"
SAME_RETRY = "OES-CLI-006"
RETRY_AFTER = "OES-CLI-007"
EXACTLY_ONCE = "OES-CLI-008"
REFUSAL = "OES-CLI-009"
EXIT_STATUS = "OES-CLI-010"
ACTIVITY = "OES-CLI-011"

# Checked on every request of every plan, and on every plan's outcome.
EVERY_PLAN = (
    SIGNATURE,
    PAYLOAD,
    NONCE,
    EXTERNAL_ID,
    CONTENT_TYPE,
    EXACTLY_ONCE,
    REFUSAL,
    EXIT_STATUS,
    ACTIVITY,
)
BUSY_RETRY_AFTER_S = 2
DEFAULT_SLOW_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Fault:
    """A sandbox fault armed for the run's enterprise (POST /sandbox/faults)."""

    kind: str  # busy, fail_after_commit, hold
    retry_after_s: int | None = None
    slow: bool = False  # hold for the run's --slow-seconds

    def request(self, enterprise_id: str, slow_seconds: float) -> dict[str, object]:
        body: dict[str, object] = {"kind": self.kind, "enterpriseId": enterprise_id}
        if self.retry_after_s is not None:
            body["retryAfterSeconds"] = self.retry_after_s
        if self.slow:
            body["milliseconds"] = round(slow_seconds * 1000)
        return body


@dataclass(frozen=True, slots=True)
class Plan:
    name: str
    title: str
    correct: str  # what a correct client does, for the report
    scheme: str = signing.ED25519
    faults: tuple[Fault, ...] = ()
    exceed_balance: bool = False  # the task owes more than a connection holds: 422
    extra_rules: tuple[str, ...] = ()

    @property
    def staged(self) -> int:
        """How many settlements the task must end as."""
        return 0 if self.exceed_balance else 1

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(sorted({*EVERY_PLAN, *self.extra_rules}))


PLANS: tuple[Plan, ...] = (
    Plan(
        "stage",
        "Nothing armed: the task is staged once, every request signed right, exit 0",
        "sign the task once with a fresh externalId and nonce, POST it, exit 0 on the 200",
    ),
    Plan(
        "busy",
        f"The first staging is answered 503 with Retry-After: {BUSY_RETRY_AFTER_S}",
        f"wait the {BUSY_RETRY_AFTER_S} s of Retry-After, resend the same body (same "
        "externalId, same properties), exit 0 on the 200",
        faults=(Fault("busy", retry_after_s=BUSY_RETRY_AFTER_S),),
        extra_rules=(SAME_RETRY, RETRY_AFTER),
    ),
    Plan(
        "lost-response",
        "The first staging commits, then is answered 500",
        "resend the same externalId with unchanged properties, receive the stored settlement "
        "(200), exit 0; never stage the task under a new externalId",
        faults=(Fault("fail_after_commit"),),
        extra_rules=(SAME_RETRY,),
    ),
    Plan(
        "slow-response",
        "The first staging commits; its answer is held back (--slow-seconds)",
        "wait for the answer, or time out and resend the same externalId; exit 0 with the task "
        "staged once",
        faults=(Fault("hold", slow=True),),
        extra_rules=(SAME_RETRY,),
    ),
    Plan(
        "insufficient-balance",
        "The task owes more than a connection's allocated balance: 422",
        "read the 422 (OES-BAL-001), resend it at most once, stage nothing else, exit non-zero",
        exceed_balance=True,
    ),
    Plan(
        "bitcoin-message",
        "The partner's key is secp256k1 (bitcoin-message): passes as `stage`",
        "sign the payload as a Bitcoin signed message with the secp256k1 key (65-byte "
        "recoverable signature, hex), POST it once, exit 0",
        scheme=signing.BITCOIN_MESSAGE,
    ),
)


def by_name(names: tuple[str, ...] | list[str]) -> list[Plan]:
    """The named plans in registry order (all when none is named); KeyError on an unknown name."""
    known = {p.name: p for p in PLANS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise KeyError(", ".join(unknown))
    return [p for p in PLANS if not names or p.name in names]
