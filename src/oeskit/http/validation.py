"""Request validation behind connexion's `validator_map`: bodies through oeskit.schemas
(compiled jsonschema-rs), parameters with our rule ids.

connexion's own Draft 4 validator spends ~1 s on a 10,000-connection body; jsonschema-rs does
the same check in milliseconds. The body is parsed once here with orjson.
"""

from __future__ import annotations

import json
import re
import typing as t
from collections import Counter
from dataclasses import replace
from urllib.parse import parse_qsl

import orjson
from connexion.datastructures import MediaTypeDict
from connexion.exceptions import BadRequestProblem, ProblemException
from connexion.utils import is_null, is_nullable
from connexion.validators import JSONRequestBodyValidator, ParameterValidator
from jsonschema import Draft4Validator
from jsonschema.exceptions import best_match
from starlette.types import Scope

from oeskit import schema_choice, schema_words, schemas, spec
from oeskit.domain import rules
from oeskit.domain.sandbox_rules import SBX_INVALID
from oeskit.errors import RuleViolation
from oeskit.http.errors import truncate


class FastJSONBodyValidator(JSONRequestBodyValidator):
    def __init__(self, *, schema: dict[str, t.Any], **kwargs: t.Any) -> None:
        super().__init__(schema=schema, **kwargs)
        # connexion builds a validator object per request; schemas.compile memoizes per schema
        # object (compiling each time cost ~12 ms a request). connexion has resolved the $refs
        # and written the spec's `components` into the schema, so it is its own document.
        self._rs = schemas.compile(schema, schema, direction="request")

    async def _parse(self, stream: t.AsyncGenerator[bytes, None], scope: Scope) -> t.Any:
        # connexion builds one validator per request, so the route can be remembered here.
        self._sandbox = str(scope.get("path", "")).startswith("/sandbox")
        raw = b"".join([chunk async for chunk in stream])
        return parse_json(raw) if raw else None

    def _validate(self, body: t.Any) -> dict[str, t.Any] | None:
        if body is None:
            if self._nullable:
                return None
            raise RuleViolation(rules.REQ_SCHEMA, "a JSON request body is required")
        try:
            if getattr(self, "_sandbox", False) and nesting_depth(body) > MAX_DEPTH:
                raise _too_deep()  # worlds nest members the schema leaves open; not a hot path
            check_body(self._rs, body)
        except RuleViolation as exc:
            if getattr(self, "_sandbox", False) and exc.rule != rules.REQ_JSON:
                # The control plane's own rule id for a schema mismatch; a body that is not
                # JSON we read (too deep) is OES-REQ-001 everywhere, as when it does not parse.
                raise RuleViolation(SBX_INVALID, exc.message) from None
            raise
        return None


def parse_json(raw: bytes) -> t.Any:
    """Parse a request body once, with orjson (which also refuses lone surrogates)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RuleViolation(
            rules.REQ_JSON, truncate(f"the body is not valid JSON: {exc}")
        ) from None


# No body of the contracts nests deeper than a few levels (the v2 body: 4). Deeper JSON is
# refused as not JSON we read (OES-REQ-001): jsonschema-rs raises past ~255 levels, which
# was a 500, and orjson refuses past 1024.
MAX_DEPTH = 64


def nesting_depth(value: t.Any, limit: int = MAX_DEPTH) -> int:
    """How deep arrays and objects nest in `value` (a scalar is 0), counted up to `limit + 1`;
    without recursion, so any depth orjson parsed is safe to measure."""
    deepest = 0
    stack: list[tuple[t.Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        if not isinstance(node, (dict, list)):
            continue
        depth += 1
        if depth > limit:
            return depth
        deepest = max(deepest, depth)
        stack.extend((child, depth) for child in children if isinstance(child, (dict, list)))
    return deepest


def _too_deep() -> RuleViolation:
    return RuleViolation(
        rules.REQ_JSON, f"the body nests arrays or objects more than {MAX_DEPTH} levels deep"
    )


def check_body(validator: schemas.Validator, body: t.Any) -> None:
    """Raise the rule a request body breaks: too deep, the nested-amounts shape, or the schema.

    The members a schema describes nest only as deep as it lets them, so on a valid body only
    the members it does not name (extra members are allowed) are measured: the hot path walks
    nothing of a 10,000-connection body (a full walk cost ~11 ms). An invalid body is measured
    whole, on the way to its error."""
    try:
        valid = validator.is_valid(body)
    except ValueError:  # jsonschema-rs: "Recursion limit reached"
        raise _too_deep() from None
    if valid:
        if isinstance(body, dict):
            named = validator.schema.get("properties") or {}
            extra = [v for k, v in body.items() if k not in named]
            if extra and nesting_depth(extra) > MAX_DEPTH:  # the list adds one level
                raise _too_deep()
        return
    if nesting_depth(body) > MAX_DEPTH:
        raise _too_deep()
    problems = validator.problems(body, limit=None)
    first = min(problems, key=lambda e: len(e.path))
    if first.keyword == "oneOf" and not first.path:
        # A tagged union (the control plane's faults): say what is wrong with the branch meant.
        explained = schema_choice.explain(validator.schema, body)
        if explained is not None:
            raise RuleViolation(rules.REQ_SCHEMA, truncate(explained, 400))
    raise refusal(problems)


# A string longer than its maxLength, or an array with more items than its maxItems: the
# contract's generous bounds (rule OES-REQ-009 on the partner API).
_BOUNDS = frozenset({"maxLength", "maxItems"})


def refusal(errors: list[schemas.Problem]) -> RuleViolation:
    """The rule and message of a body's problems, said in our words: the JSON pointer of the
    field, what the contract expects there and what was sent."""
    first = min(errors, key=lambda e: len(e.path))
    bound = _over_bound(first)
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    if bound is None and first.path and first.path[0] == "settlementAmounts":
        # Neither shape matched: say what the two shapes are instead of echoing anyOf.
        return RuleViolation(
            rules.AMT_SHAPE,
            "invalid format for settlement amounts: use {connectionId: {currency: amount}} or "
            "{sourceConnectionId: {destinationConnectionId: {currency: amount}}} with string "
            f"amounts, at one depth (body field {first.pointer})",
        )
    problem = bound or first
    where = f"body field {problem.pointer}" if problem.pointer else "body"
    rule = rules.REQ_TOO_LONG if bound is not None else rules.REQ_SCHEMA
    return RuleViolation(rule, truncate(f"{where}: {problem.said}", 400) + more)


def _over_bound(problem: schemas.Problem) -> schemas.Problem | None:
    """The length bound `problem` breaks, if that is all it breaks: an amount string that is
    too long fails every shape of settlementAmounts, and its bound is what to name."""
    if problem.keyword in _BOUNDS:
        return problem
    for branch in problem.branches:
        if branch and all(p.keyword in _BOUNDS for p in branch):
            return branch[0]
    return None


SIGNING_GET = "v1PartnerSettlementSigningGetRoute"


def amounts_from_query(text: str) -> dict[str, t.Any]:
    """`settlementAmounts` of the signing GET, as its parameter documents it: the JSON text of
    an object (else OES-READ-002) in one of the two shapes (else OES-AMT-001, the rule of the
    POST variant's body), checked with the schema its `x-oeskit-content` names."""
    try:
        value = json.loads(text)  # json keeps the key order, which the payload keeps too
    except (ValueError, RecursionError):  # not JSON, or nested past what json can parse
        value = None
    if not isinstance(value, dict):
        raise RuleViolation(
            rules.READ_QUERY,
            "query parameter settlementAmounts: expected the JSON text of an object, got "
            + schema_words.shown(text),
        )
    document = spec.contract()
    _, _, operation = spec.operation(document, SIGNING_GET)
    parameter = next(p for p in operation["parameters"] if p.get("name") == "settlementAmounts")
    node = parameter["schema"]["x-oeskit-content"]["schema"]
    validator = schemas.compile(document, node, direction="request")
    try:
        if validator.is_valid(value):
            return value
        problems = validator.problems(value, limit=None)
    except ValueError:  # jsonschema-rs's recursion limit: far deeper than either shape
        raise RuleViolation(
            rules.AMT_SHAPE,
            "invalid format for settlement amounts: it nests deeper than the three levels of "
            "{sourceConnectionId: {destinationConnectionId: {currency: amount}}}",
        ) from None
    raise refusal([_under(p, "settlementAmounts") for p in problems])


def _under(problem: schemas.Problem, name: str) -> schemas.Problem:
    """`problem` of a member's value, seen from the object holding it under `name`."""
    return replace(
        problem,
        path=(name, *problem.path),
        pointer=schema_words.pointer([name]) + problem.pointer,
        branches=tuple(tuple(_under(p, name) for p in branch) for branch in problem.branches),
    )


# Worlds may give clients any id (the World schema does not make them UUIDs, and the demo's are
# `client-alpha`...), so a client id filter cannot insist on the contract's `format: uuid`.
_FREE_FORM_IDS = frozenset({"clientIds"})
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class _ParameterProblem(BadRequestProblem):
    """A parameter refused; `bound` when it is longer (or has more values) than the contract
    allows (rule OES-REQ-009 rather than OES-READ-002)."""

    def __init__(self, detail: str, *, bound: bool = False) -> None:
        super().__init__(detail=detail)
        self.bound = bound


class ReadableParameterValidator(ParameterValidator):
    """connexion's parameter checks, answered in our words and with our rule ids instead of
    problem+json: OES-READ-002 (OES-REQ-009 past a length bound) on the contract's routes,
    OES-SBX-002 on the control plane.

    connexion's Draft 4 format checker ignores `uuid`, so UUIDs are checked here, item by item
    (literal commas were already made repetitions, `http/query.py`). An empty value is not a
    UUID either: `?connectionIds=` is refused, not read as "no filter". A scalar parameter sent
    more than once is refused: connexion would read its last value only."""

    @staticmethod
    def validate_parameter(
        parameter_type: str, value: t.Any, param: dict[str, t.Any], param_name: str | None = None
    ) -> str | None:
        name = param["name"]
        if is_nullable(param) and is_null(value):
            return None
        if value is None:
            if param.get("required"):
                raise _ParameterProblem(
                    f"{parameter_type} parameter {name} is required but missing"
                )
            return None
        schema = param.get("schema", param)
        checker = Draft4Validator(schema, format_checker=Draft4Validator.FORMAT_CHECKER)
        error = best_match(checker.iter_errors(value))
        if error is not None:
            path = list(error.absolute_path)
            _, said = schema_words.complaint(
                path, str(error.validator), error.schema, error.instance
            )
            at = f" (value {int(path[0]) + 1})" if path and isinstance(path[0], int) else ""
            raise _ParameterProblem(
                f"{parameter_type} parameter {name}{at}: {said}",
                bound=error.validator in _BOUNDS,
            )
        checks_uuid = name not in _FREE_FORM_IDS and "uuid" in (
            schema.get("format"),
            schema.get("items", {}).get("format"),
        )
        if checks_uuid:
            for item in value if isinstance(value, list) else [value]:
                if _UUID.fullmatch(str(item)) is None:
                    raise _ParameterProblem(
                        f"{parameter_type} parameter {name}: expected "
                        f"{schema_words.expectation('format', 'uuid')}, "
                        f"got {schema_words.shown(str(item))}"
                    )
        return None

    def validate(self, scope: Scope) -> None:
        sandbox = str(scope.get("path", "")).startswith("/sandbox")
        try:
            self._refuse_repeats(scope)
            super().validate(scope)
        except ProblemException as exc:
            rule = SBX_INVALID if sandbox else rules.READ_QUERY
            if getattr(exc, "bound", False) and not sandbox:
                rule = rules.REQ_TOO_LONG
            detail = str(exc.detail or exc.title or "invalid parameter")
            raise RuleViolation(rule, truncate(re.sub(r"\s+", " ", detail), 400)) from None

    def _refuse_repeats(self, scope: Scope) -> None:
        """A scalar query parameter given twice (`?pageNumber=abc&pageNumber=0`) is refused."""
        raw: bytes = scope.get("query_string", b"")
        if b"&" not in raw:
            return
        counts = Counter(
            name for name, _ in parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
        )
        for param in self.parameters.get("query", []):
            times = counts.get(param["name"], 0)
            if times > 1 and param.get("schema", {}).get("type") != "array":
                raise _ParameterProblem(
                    f"query parameter {param['name']} is given {times} times: send it once"
                )


def validator_map() -> dict[str, t.Any]:
    return {
        "parameter": ReadableParameterValidator,
        "body": MediaTypeDict(
            {"application/json": FastJSONBodyValidator, "*/*json": FastJSONBodyValidator}
        ),
    }
