"""The fuzz pass: schemathesis generates requests from the contract (seeded, bounded); a signing
hook gives v2 bodies a real signature and every request a valid token, so generated data reaches
the business rules. Responses are checked against the contract; problems become Findings."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any

from oeskit import signing
from oeskit.conformance import contract
from oeskit.conformance.profile import Profile
from oeskit.conformance.target import Target
from oeskit.reports.model import Exchange, Finding, ScenarioResult, Status
from oeskit.spec import contract_path

STAGE_OPERATION = "v2PartnerSettlementsPostRoute"
_FUZZ_RULE = "OES-SRV-001"


def fuzz_target(
    profile: Profile, target: Target, *, max_examples: int, seed: int
) -> Iterator[ScenarioResult]:
    """One result per contract operation, each from at most `max_examples` generated cases."""
    import schemathesis
    from schemathesis.core.result import Ok
    from schemathesis.generation import GenerationMode

    if "exchange" not in profile.tokens or "exchange" not in profile.enterprises:
        yield _skipped("the profile declares no `exchange` token and enterprise to fuzz with")
        return
    if "worlds" in profile.capabilities:
        target.seed_world("demo", {})
    schema = schemathesis.openapi.from_path(str(contract_path()))
    operations = [r.ok() for r in schema.get_all_operations() if isinstance(r, Ok)]
    for index, operation in enumerate(operations):
        started = time.perf_counter()
        op_id = operation.definition.raw.get("operationId", operation.label)
        strategy = operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
        findings, exchanges = _fuzz_operation(
            strategy, op_id, profile, target, max_examples, seed + index
        )
        status = (
            Status.FAILED
            if any(f.severity is Status.FAILED for f in findings)
            else Status.WARNING
            if findings
            else Status.PASSED
        )
        rules = tuple(sorted({f.rule for f in findings if f.rule}))
        yield ScenarioResult(
            id=f"fuzz:{op_id}",
            title=f"schemathesis: {operation.method.upper()} {operation.path}",
            rules=rules,
            tags=("fuzz",),
            status=status,
            duration_s=time.perf_counter() - started,
            reason=findings[0].message if findings else f"{len(exchanges)} cases",
            findings=tuple(_dedupe(findings)),
            kind="fuzz",
            exchanges=tuple(f.exchange for f in _dedupe(findings) if f.exchange),
        )


def _fuzz_operation(
    strategy: Any, op_id: str, profile: Profile, target: Target, max_examples: int, seed: int
) -> tuple[list[Finding], list[Exchange]]:
    """Send up to `max_examples` generated cases of one operation; collect what went wrong."""
    import hypothesis

    findings: list[Finding] = []
    exchanges: list[Exchange] = []

    @hypothesis.settings(
        max_examples=max_examples,
        database=None,
        deadline=None,
        phases=[hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(case=strategy)
    def probe(case: Any) -> None:
        exchange, problems = _send(case, op_id, profile, target)
        exchanges.append(exchange)
        findings.extend(problems)

    try:
        hypothesis.seed(seed)(probe)()
    except Exception as exc:
        findings.append(
            Finding(
                Status.WARNING,
                None,
                "fuzzing could not generate cases",
                "",
                f"{type(exc).__name__}: {exc}"[:500],
                op_id,
            )
        )
    return findings, exchanges


def _send(
    case: Any, op_id: str, profile: Profile, target: Target
) -> tuple[Exchange, list[Finding]]:
    path_params = dict(case.path_parameters or {})
    if "enterpriseId" in path_params:
        path_params["enterpriseId"] = profile.enterprises["exchange"]
    path = case.operation.path
    for name, value in path_params.items():
        path = path.replace("{" + name + "}", str(value))
    body = case.body
    if op_id == STAGE_OPERATION and isinstance(body, dict) and "exchange" in profile.keys:
        # The signing hook: without a real signature no generated body passes step 6.
        fields = {k: v for k, v in body.items() if k not in ("payload", "signature")}
        with contextlib.suppress(TypeError, ValueError):
            body = signing.sign_body(fields, profile.keys["exchange"])
    headers = {"Authorization": f"Bearer {profile.tokens['exchange']}"}
    content = None
    if body is not None and not _is_unset(body):
        headers["Content-Type"] = "application/json"
        content = json.dumps(body).encode("utf-8")
    response, exchange = target.send(
        case.method.upper(),
        path,
        headers=headers,
        content=content,
        params=dict(case.query or {}) or None,
        step=op_id,
    )
    findings: list[Finding] = []
    if response is None:
        findings.append(
            Finding(
                Status.FAILED,
                _FUZZ_RULE,
                "the target did not answer",
                "",
                exchange.response_body or "",
                op_id,
                exchange,
            )
        )
        return exchange, findings
    if response.status_code >= 500:
        findings.append(
            Finding(
                Status.FAILED,
                _FUZZ_RULE,
                "server error on generated input",
                "a non-5xx status",
                str(response.status_code),
                op_id,
                exchange,
            )
        )
    for problem in contract.check_response(
        case.method,
        target.route_path(response.url),
        response.status_code,
        response.content,
        response.headers,
    ):
        rule = _status_rule(response) if "not documented" in problem else None
        findings.append(
            Finding(
                Status.FAILED,
                rule,
                "response does not conform to the contract",
                "documented status and schema",
                problem,
                op_id,
                exchange,
            )
        )
    return exchange, findings


def _status_rule(response: Any) -> str | None:
    try:
        rule = response.json().get("rule")
    except (ValueError, AttributeError):
        return None
    return rule if isinstance(rule, str) and rule in contract.rule_ids() else None


def _is_unset(value: Any) -> bool:
    return type(value).__name__ == "NotSet"


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple[str, str]] = set()
    out = []
    for f in findings:
        key = (f.message, f.actual[:80])
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out[:10]


def _skipped(reason: str) -> ScenarioResult:
    return ScenarioResult(
        id="fuzz",
        title="schemathesis fuzz pass",
        rules=(),
        tags=("fuzz",),
        status=Status.SKIPPED,
        duration_s=0.0,
        reason=reason,
        kind="fuzz",
    )
