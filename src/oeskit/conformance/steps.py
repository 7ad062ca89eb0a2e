"""Executing one scenario step: build the request from its template, sign it at run time with a
named key, tamper with it, send it, and check the response. Mismatches become Findings (data);
a name the profile does not declare raises Unavailable so the scenario is SKIPPED."""

from __future__ import annotations

import base64
import json
import re
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from oeskit import signing
from oeskit.conformance import contract, echo
from oeskit.conformance.jsonpath import MISSING, lookup, remove_path, set_path
from oeskit.conformance.profile import Profile
from oeskit.conformance.target import Target
from oeskit.reports.model import Exchange, Finding, Status

_VARIABLE = re.compile(r"\{([A-Za-z0-9_.\-]+)\}")
_PREFIXES = {
    "v1": "/api/network/v1/enterprises/{enterpriseId}/partners",
    "v2": "/api/network/v2/enterprises/{enterpriseId}/partners",
}
DEFAULT_CUTOFF = "2026-11-01T00:00:00.000Z"


class Unavailable(LookupError):
    """The scenario needs a name (token, key, connection...) the profile does not declare."""


@dataclass(frozen=True, slots=True)
class Sent:
    """A request as sent, kept for `replay` and `save: {x: request.field}`."""

    method: str
    path: str
    headers: dict[str, str]
    content: bytes | None
    params: dict[str, Any] | None
    body: Any


@dataclass
class StepContext:
    profile: Profile
    target: Target
    variables: dict[str, Any]
    sent: dict[str, Sent] = field(default_factory=dict)


def substitute(value: Any, variables: dict[str, Any]) -> Any:
    """Replace `{name}` in strings and mapping keys; a string that is one variable takes the
    variable's value as is (so a saved object stays an object)."""
    if isinstance(value, dict):
        return {substitute(k, variables): substitute(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, variables) for v in value]
    if not isinstance(value, str):
        return value
    whole = _VARIABLE.fullmatch(value)
    if whole:
        return _variable(whole.group(1), variables)
    return _VARIABLE.sub(lambda m: str(_variable(m.group(1), variables)), value)


def _variable(name: str, variables: dict[str, Any]) -> Any:
    if name == "nonce":
        return signing.new_nonce()
    if name == "uuid":
        return str(uuid.uuid4())
    if name in _PREFIXES:
        return substitute(_PREFIXES[name], variables)
    if name.startswith("long.") and name[5:].isdigit():  # a string of that many characters
        return "x" * int(name[5:])
    if name not in variables:
        raise Unavailable(f"the profile or an earlier step does not provide {{{name}}}")
    return variables[name]


def run_step(
    step: dict[str, Any], index: int, ctx: StepContext
) -> tuple[list[Finding], Exchange | None]:
    """Execute one step; return its findings and the exchange it produced."""
    name = str(step.get("name") or f"step {index + 1}")
    sent = _build(step, ctx)
    response, exchange = ctx.target.send(
        sent.method,
        sent.path,
        headers=sent.headers,
        content=sent.content,
        params=sent.params,
        step=name,
    )
    ctx.sent[name] = sent
    if response is None:
        return [
            Finding(
                Status.FAILED,
                None,
                "the target did not answer",
                "an HTTP response",
                exchange.response_body or "",
                name,
                exchange,
            )
        ], exchange
    try:
        data: Any = response.json()
    except ValueError:
        data = MISSING
    findings = check(step.get("expect") or {}, response.status_code, data, ctx, name, exchange)
    if response.status_code == 200 and data is not MISSING:
        expect = step.get("expect") or {}
        route = ctx.target.route_path(response.url)
        for message, wanted, got in echo.mismatches(
            sent.method, route, sent.body, sent.params, data
        ):
            severity = Status.WARNING if expect.get("warn") else Status.FAILED
            findings.append(
                Finding(
                    severity, expect.get("rule"), message, _show(wanted), _show(got), name, exchange
                )
            )
    for problem in contract.check_response(
        sent.method,
        ctx.target.route_path(response.url),
        response.status_code,
        response.content,
        response.headers,
    ):
        findings.append(
            Finding(
                Status.FAILED,
                (step.get("expect") or {}).get("rule"),
                "response does not conform to the contract",
                "the documented status and schema",
                problem,
                name,
                exchange,
            )
        )
    if not any(f.severity is Status.FAILED for f in findings):
        for var, path in (step.get("save") or {}).items():
            source, dotted = (sent.body, path[8:]) if path.startswith("request.") else (data, path)
            value = lookup(source, dotted)
            if value is MISSING:
                findings.append(
                    Finding(
                        Status.FAILED,
                        None,
                        f"cannot save {var}",
                        f"{path} present",
                        "absent",
                        name,
                        exchange,
                    )
                )
            ctx.variables[var] = value
    return findings, exchange


def _build(step: dict[str, Any], ctx: StepContext) -> Sent:
    if "replay" in step:
        previous = ctx.sent.get(step["replay"])
        if previous is None:
            raise Unavailable(f"no earlier step named {step['replay']} to replay")
        return previous
    variables = dict(ctx.variables)
    enterprise = str(step.get("enterprise", "exchange"))
    if enterprise not in ctx.profile.enterprises and "sandbox" not in step:
        raise Unavailable(f"the profile declares no enterprise `{enterprise}`")
    variables["enterpriseId"] = ctx.profile.enterprises.get(enterprise, "")
    method, path = str(step.get("call") or step.get("sandbox")).split()
    path = substitute(path, variables)
    headers = {str(k): str(v) for k, v in substitute(step.get("headers") or {}, variables).items()}
    if "sandbox" in step:
        path = "/sandbox" + path
        headers.update(ctx.target.admin_headers())
    else:
        token = step.get("as", "exchange")
        if isinstance(token, dict):
            headers["Authorization"] = f"Bearer {token['raw']}"
        elif token != "none":  # noqa: S105 - the role that sends no token, not a password
            if token not in ctx.profile.tokens:
                raise Unavailable(f"the profile declares no token `{token}`")
            headers["Authorization"] = f"Bearer {ctx.profile.tokens[token]}"
    if "headerSize" in step:
        # One header field of the size asked for; built at run time, never stored.
        headers["X-Oeskit-Padding"] = "a" * int(step["headerSize"])
    body = substitute(step.get("body"), variables) if "body" in step else None
    if step.get("sign"):
        body = _sign(body or {}, str(step["sign"]), ctx)
    elif step.get("signAll"):
        body = _sign_all(body or {}, str(step["signAll"]), ctx)
    if step.get("tamper"):
        body = _tamper(body, step["tamper"], ctx, variables)
    content: bytes | None = None
    if "raw" in step:
        content = str(substitute(step["raw"], variables)).encode("utf-8")
    elif "rawSize" in step:
        # A JSON object padded to the size asked for; built at run time, never stored.
        size = int(step["rawSize"])
        content = b'{"pad":"' + b"a" * max(size - 10, 0) + b'"}'
    elif body is not None:
        content = json.dumps(body).encode("utf-8")
    if content is not None:
        headers.setdefault("Content-Type", str(step.get("contentType", "application/json")))
    query = substitute(step.get("query"), variables) if step.get("query") else None
    return Sent(method.upper(), path, headers, content, query, body)


def _key(name: str, ctx: StepContext) -> signing.SigningKey:
    if name == "unregistered":
        return signing.generate(signing.ED25519)  # a valid key no target has registered
    if name not in ctx.profile.keys:
        raise Unavailable(f"the profile declares no signing key `{name}`")
    return ctx.profile.keys[name]


def _sign(fields: dict[str, Any], key_name: str, ctx: StepContext) -> dict[str, Any]:
    fields = dict(fields)
    fields.setdefault("nonce", signing.new_nonce())
    fields.setdefault("cutoffAt", DEFAULT_CUTOFF)
    fields = {k: v for k, v in fields.items() if v is not None}
    return signing.sign_body(fields, _key(key_name, ctx))


def _sign_all(fields: dict[str, Any], key_name: str, ctx: StepContext) -> dict[str, Any]:
    """Sign every field, as the allocation update routes bind them: `payload` is the JSON of
    all the other fields (a fresh nonce added when absent)."""
    fields = {k: v for k, v in fields.items() if v is not None}
    fields.setdefault("nonce", signing.new_nonce())
    payload = json.dumps(fields)
    return {
        **fields,
        "payload": payload,
        "signature": signing.sign_message(payload, _key(key_name, ctx)),
    }


def _tamper(body: Any, tamper: dict[str, Any], ctx: StepContext, variables: dict[str, Any]) -> Any:
    """Alter a signed body: change fields after signing, re-sign a payload that differs from the
    body, re-encode or corrupt the signature."""
    body = json.loads(json.dumps(body))
    for path, value in substitute(tamper.get("set") or {}, variables).items():
        set_path(body, path, value)
    for path in substitute(tamper.get("remove") or [], variables):
        remove_path(body, path)
    key = _key(str(tamper.get("signWith", "exchange")), ctx)
    if "payload" in tamper:
        fields = signing.parse_payload(body["payload"])
        for path, value in substitute(tamper["payload"], variables).items():
            set_path(fields, path, value)
        body["payload"] = signing.canonical_payload(fields)
        body["signature"] = signing.sign_message(body["payload"], key)
    if "payloadText" in tamper:
        body["payload"] = substitute(tamper["payloadText"], variables)
        body["signature"] = signing.sign_message(body["payload"], key)
    elif "signWith" in tamper and "payload" not in tamper:
        body["signature"] = signing.sign_message(body["payload"], key)
    mode = tamper.get("signature")
    if mode == "base64":
        body["signature"] = base64.b64encode(bytes.fromhex(body["signature"])).decode()
    elif mode == "truncate":
        body["signature"] = body["signature"][:-2]
    elif mode == "flip":
        last = body["signature"][-1]
        body["signature"] = body["signature"][:-1] + ("0" if last != "0" else "1")
    elif mode == "random":
        body["signature"] = secrets.token_hex(64)
    return body


def check(
    expect: dict[str, Any], status: int, data: Any, ctx: StepContext, step: str, exchange: Exchange
) -> list[Finding]:
    """Compare a response with a step's expectations; one Finding per mismatch."""
    severity = Status.WARNING if expect.get("warn") else Status.FAILED
    rule = expect.get("rule")
    out: list[Finding] = []

    def fail(message: str, expected: Any, actual: Any) -> None:
        out.append(Finding(severity, rule, message, _show(expected), _show(actual), step, exchange))

    wanted = expect.get("status")
    if wanted is not None:
        allowed = wanted if isinstance(wanted, list) else [wanted]
        if status not in allowed:
            fail("unexpected status", " or ".join(map(str, allowed)), status)
            return out  # the body of the wrong status says nothing about the expectations
    if rule is not None and lookup(data, "rule") != rule:
        fail(
            "error body does not name the expected rule",
            {"rule": rule},
            lookup(data, "rule") if lookup(data, "rule") is not MISSING else "no rule",
        )
    variables = ctx.variables
    for path, value in substitute(expect.get("json") or {}, variables).items():
        if lookup(data, path) != value:
            fail(f"{path} differs", value, lookup(data, path))
    for path in substitute(expect.get("exists") or [], variables):
        if lookup(data, path) is MISSING:
            fail(f"{path} is missing", "present", "absent")
    for path in substitute(expect.get("absent") or [], variables):
        if lookup(data, path) not in (MISSING, None, []):
            fail(f"{path} should be absent", "absent", lookup(data, path))
    for path, var in (expect.get("same") or {}).items():
        if lookup(data, path) != _variable(var, variables):
            fail(f"{path} differs from saved {var}", variables.get(var), lookup(data, path))
    for path, var in (expect.get("notSame") or {}).items():
        if lookup(data, path) == _variable(var, variables):
            fail(f"{path} equals saved {var}", f"not {variables.get(var)}", lookup(data, path))
    for path, length in (expect.get("length") or {}).items():
        found = lookup(data, path)
        if not isinstance(found, list) or len(found) != length:
            fail(f"length of {path}", length, len(found) if isinstance(found, list) else found)
    for path, value in substitute(expect.get("contains") or {}, variables).items():
        found = lookup(data, path)
        if not isinstance(found, list) or value not in found:
            fail(f"{path} does not contain the value", value, found)
    for path, value in substitute(expect.get("all") or {}, variables).items():
        found = lookup(data, path)
        if not isinstance(found, list) or not found or any(v != value for v in found):
            fail(f"not every {path} equals the value", value, found)
    return out


def _show(value: Any) -> str:
    if value is MISSING:
        return "absent"
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:500]
