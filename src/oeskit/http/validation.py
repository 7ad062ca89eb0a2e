"""Request validation behind connexion's `validator_map`: bodies through oeskit.schemas
(compiled jsonschema-rs), parameters with our rule ids.

connexion's own Draft 4 validator spends ~1 s on a 10,000-connection body; jsonschema-rs does
the same check in milliseconds. The body is parsed once here with orjson.
"""

from __future__ import annotations

import re
import typing as t

import orjson
from connexion.datastructures import MediaTypeDict
from connexion.exceptions import ProblemException
from connexion.validators import JSONRequestBodyValidator, ParameterValidator
from starlette.types import Scope

from oeskit import schema_choice, schemas
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
            check_body(self._rs, body)
        except RuleViolation as exc:
            if getattr(self, "_sandbox", False):  # the control plane's own rule id
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


def check_body(validator: schemas.Validator, body: t.Any) -> None:
    """Raise the rule a request body breaks: the nested-amounts shape, or the schema."""
    if validator.is_valid(body):
        return
    errors = validator.problems(body, limit=None)
    first = min(errors, key=lambda e: len(e.path))
    where = first.where
    if first.path and first.path[0] == "settlementAmounts":
        # Neither shape matched: say what the two shapes are instead of echoing anyOf.
        raise RuleViolation(
            rules.AMT_SHAPE,
            "invalid format for settlement amounts: use {connectionId: {currency: amount}} or "
            "{sourceConnectionId: {destinationConnectionId: {currency: amount}}} with string "
            f"amounts, at one depth ({where})",
        )
    if first.keyword == "oneOf" and not first.path:
        # A tagged union (the control plane's faults): say what is wrong with the branch meant.
        explained = schema_choice.explain(validator.schema, body)
        if explained is not None:
            raise RuleViolation(rules.REQ_SCHEMA, truncate(explained, 400))
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    raise RuleViolation(rules.REQ_SCHEMA, truncate(f"{where}: {first.message}", 400) + more)


# Worlds may give clients any id (the World schema does not make them UUIDs, and the demo's are
# `client-alpha`...), so a client id filter cannot insist on the contract's `format: uuid`.
_FREE_FORM_IDS = frozenset({"clientIds"})
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class ReadableParameterValidator(ParameterValidator):
    """connexion's parameter checks, answered with our rule ids instead of problem+json:
    OES-READ-002 on the contract's routes, OES-SBX-002 on the control plane.

    connexion's Draft 4 format checker ignores `uuid`, so UUIDs are checked here, item by item
    (literal commas were already made repetitions, `http/query.py`). An empty value is not a
    UUID either: `?connectionIds=` is refused, not read as "no filter"."""

    @staticmethod
    def validate_parameter(
        parameter_type: str, value: t.Any, param: dict[str, t.Any], param_name: str | None = None
    ) -> str | None:
        error: str | None = ParameterValidator.validate_parameter(
            parameter_type, value, param, param_name
        )
        schema = param.get("schema", param)
        checks_uuid = param["name"] not in _FREE_FORM_IDS and "uuid" in (
            schema.get("format"),
            schema.get("items", {}).get("format"),
        )
        if error is not None and param["name"] not in error:
            return f"{parameter_type} parameter {param['name']}: {error}"
        if error is None and value is not None and checks_uuid:
            for item in value if isinstance(value, list) else [value]:
                if _UUID.fullmatch(str(item)) is None:
                    return (
                        f"{parameter_type} parameter {param['name']}: "
                        f"{str(item)[:80]!r} is not a UUID"
                    )
        return error

    def validate(self, scope: Scope) -> None:
        try:
            super().validate(scope)
        except ProblemException as exc:
            rule = (
                SBX_INVALID
                if str(scope.get("path", "")).startswith("/sandbox")
                else rules.READ_QUERY
            )
            detail = str(exc.detail or exc.title or "invalid parameter")
            raise RuleViolation(rule, truncate(re.sub(r"\s+", " ", detail), 400)) from None


def validator_map() -> dict[str, t.Any]:
    return {
        "parameter": ReadableParameterValidator,
        "body": MediaTypeDict(
            {"application/json": FastJSONBodyValidator, "*/*json": FastJSONBodyValidator}
        ),
    }
