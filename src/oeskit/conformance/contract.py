"""The contract as the conformance suite reads it: operations matched by path, the statuses each
documents, the rules catalogue, and each response checked by openapi-core (status, content type,
headers, body with formats). Loads openapi.yaml through oeskit.spec; never imports the
implementation."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import httpx
from jsonschema import ValidationError
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.deserializing.media_types.exceptions import MediaTypeDeserializeError
from openapi_core.templating.media_types.exceptions import MediaTypeNotFound
from openapi_core.validation.response.exceptions import (
    InvalidHeader,
    MissingData,
    MissingRequiredHeader,
)
from openapi_core.validation.schemas.exceptions import InvalidSchemaValue

from oeskit import schemas, spec

_METHODS = ("get", "post", "put", "patch", "delete")
_MAX_PROBLEMS = 3


@dataclass(frozen=True, slots=True)
class Operation:
    id: str
    method: str
    template: str
    pattern: re.Pattern[str]
    responses: dict[str, Any]


def catalogue() -> list[dict[str, Any]]:
    return spec.rules_catalogue(spec.contract())


def rule_ids() -> set[str]:
    return {r["id"] for r in catalogue()}


@cache
def operations() -> tuple[Operation, ...]:
    return operations_in(spec.contract())


def operations_in(document: Mapping[str, Any]) -> tuple[Operation, ...]:
    """Every operation of an OpenAPI document, each with the pattern its paths match."""
    out: list[Operation] = []
    for template, item in document["paths"].items():
        regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        for method in _METHODS:
            if method in item:
                op = item[method]
                out.append(
                    Operation(
                        op["operationId"],
                        method.upper(),
                        template,
                        re.compile(f"^{regex}$"),
                        op.get("responses", {}),
                    )
                )
    return tuple(out)


def match(method: str, path: str) -> tuple[Operation | None, bool]:
    """The operation serving `method path`, and whether the path is known at all."""
    known = False
    for op in operations():
        if op.pattern.match(path):
            known = True
            if op.method == method.upper():
                return op, True
    return None, known


def _response_key(responses: dict[str, Any], status: int) -> str | None:
    for key in (str(status), f"{str(status)[0]}XX", "default"):
        if key in responses:
            return key
    return None


def documented(op: Operation, status: int) -> bool:
    return _response_key(op.responses, status) is not None


def check_response(
    method: str,
    path: str,
    status: int,
    body: bytes | str | None,
    headers: Mapping[str, str] | None = None,
) -> list[str]:
    """Problems of a response against the contract: an undocumented status, a content type,
    header or body (formats included) the contract does not allow. Paths outside the contract
    (e.g. /sandbox/) give none."""
    if path.startswith("/sandbox/"):
        return []
    data = body.encode() if isinstance(body, str) else (body or b"")
    fields = httpx.Headers(headers or {})
    op, known = match(method, path)
    if op is None:
        # Unknown routes and methods are answered with the contract's NotFound/MethodNotAllowed.
        name = "MethodNotAllowed" if known else "NotFound"
        expected = 405 if known else 404
        if status != expected:
            return [
                f"{method} {path} is {'a method not offered' if known else 'no route'}: "
                f"status {status} is not the documented {expected}"
            ]
        return _named_response_problems(name, data, fields.get("content-type", ""))
    return response_problems(_openapi(), op, path, status, data, fields)


def response_problems(
    openapi: OpenAPI,
    op: Operation,
    path: str,
    status: int,
    body: bytes,
    headers: httpx.Headers,
) -> list[str]:
    """Problems of one response to `op` against `openapi` (any contract document): a status
    the operation does not document, or what openapi-core finds in its headers and body."""
    if not documented(op, status):
        return [
            f"status {status} is not documented for {op.id} "
            f"(documented: {', '.join(sorted(op.responses))})"
        ]
    request = _Request(op.method.lower(), path)
    response = _Response(status, headers.get("content-type", "").lower(), headers, body or None)
    problems: list[str] = []
    for error in openapi.iter_response_errors(request, response):
        problems += _describe(error)
    return problems[:_MAX_PROBLEMS]


def openapi_of(document: Mapping[str, Any]) -> OpenAPI:
    """openapi-core's view of a contract document, without validating the document again
    (the test suite and `oeskit lint` do that)."""
    return OpenAPI.from_dict(dict(document), config=Config(spec_validator_cls=None))


# ---- openapi-core ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Request:
    """openapi-core's Request protocol over what the target sent: only the operation matters to
    a response check, so no parameters or body."""

    method: str
    path: str
    host_url: str = "http://target"
    content_type: str = "application/json"
    body: bytes | None = None
    parameters: RequestParameters = field(default_factory=RequestParameters)


@dataclass(frozen=True, slots=True)
class _Response:
    """openapi-core's Response protocol over what the target answered."""

    status_code: int
    content_type: str
    headers: Mapping[str, str]
    data: bytes | None


@cache
def _openapi() -> OpenAPI:
    # openapi.yaml is checked against the OpenAPI 3.0 schema by the test suite
    # (tests/unit/test_spec.py); checking it again on every conform run costs about a second.
    return openapi_of(spec.contract())


def _describe(error: Exception) -> list[str]:
    cause = error.__cause__
    if isinstance(error, InvalidHeader | MissingRequiredHeader):
        reason = _first_schema_error(cause) if cause is not None else str(error)
        return [f"response header {error.name}: {reason}"]
    if isinstance(cause, InvalidSchemaValue):
        return [
            f"response breaks the schema at {_where(e.absolute_path)}: {e.message[:200]}"
            for e in cause.schema_errors
            if isinstance(e, ValidationError)
        ][:_MAX_PROBLEMS]
    if isinstance(error, MissingData):
        return ["response has no body, where the contract documents one"]
    if isinstance(cause, MediaTypeDeserializeError):
        return ["response body is not JSON"]
    if isinstance(error, MediaTypeNotFound):
        return [
            f"content type {error.mimetype!r} is not documented for this status "
            f"(documented: {', '.join(error.availableMimetypes)})"
        ]
    if isinstance(cause, MediaTypeNotFound):
        return _describe(cause)
    return [f"response does not conform: {str(error)[:300]}"]


def _first_schema_error(cause: BaseException) -> str:
    errors = getattr(cause, "schema_errors", ())
    return errors[0].message[:200] if errors else str(cause)[:200]


def _where(parts: Iterable[object]) -> str:
    return "/".join(str(p) for p in parts) or "(root)"


# ---- the NotFound / MethodNotAllowed answers of routes outside the contract -------------------


def _named_response_problems(name: str, body: bytes, content_type: str) -> list[str]:
    media = spec.contract()["components"]["responses"][name]["content"]
    if content_type.split(";")[0].strip().lower() not in media:
        return [
            f"content type {content_type!r} is not documented for {name} "
            f"(documented: {', '.join(media)})"
        ]
    try:
        data = json.loads(body)
    except ValueError:
        return ["response body is not JSON"]
    validator = schemas.compile(spec.contract(), media["application/json"]["schema"])
    return [
        f"response breaks the schema at {_where(p.path)}: {p.message[:200]}"
        for p in validator.problems(data, limit=3)
    ]
