"""The contract as the conformance suite reads it: operations matched by path, the statuses each
documents, response schemas as JSON Schema validators, and the rules catalogue. Loads openapi.yaml
through oeskit.spec; never imports the implementation."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import jsonschema

from oeskit import spec

_METHODS = ("get", "post", "put", "patch", "delete")


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
    out: list[Operation] = []
    for template, item in spec.contract()["paths"].items():
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


def _resolve(node: Any, root: dict[str, Any], depth: int = 0, names: bool = False) -> Any:
    """Inline `$ref`s, turn `nullable` into a null branch and drop annotations (`names`: the
    node is a `properties` map, whose keys are field names, not keywords)."""
    if depth > 40:
        return {}
    if isinstance(node, list):
        return [_resolve(n, root, depth + 1) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target: Any = root
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return _resolve(target, root, depth + 1)
    if names:
        return {k: _resolve(v, root, depth + 1) for k, v in node.items()}
    out = {
        k: _resolve(v, root, depth + 1, k == "properties")
        for k, v in node.items()
        if k not in ("example", "examples", "description", "nullable", "format")
    }
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


def _response_object(responses: dict[str, Any], status: int) -> dict[str, Any] | None:
    for key in (str(status), f"{str(status)[0]}XX", "default"):
        if key in responses:
            value = _resolve(responses[key], spec.contract())
            return value if isinstance(value, dict) else {}
    return None


@cache
def _validator(op_id: str, status: int) -> jsonschema.Draft4Validator | None:
    op = next(o for o in operations() if o.id == op_id)
    response = _response_object(op.responses, status) or {}
    schema = response.get("content", {}).get("application/json", {}).get("schema")
    return jsonschema.Draft4Validator(schema) if schema else None


@cache
def _named_response_validator(name: str) -> jsonschema.Draft4Validator:
    response = _resolve(spec.contract()["components"]["responses"][name], spec.contract())
    return jsonschema.Draft4Validator(response["content"]["application/json"]["schema"])


def documented(op: Operation, status: int) -> bool:
    return _response_object(op.responses, status) is not None


def check_response(method: str, path: str, status: int, body: str | None) -> list[str]:
    """Problems of a response against the contract: an undocumented status, a body that is not
    JSON or breaks the response schema. Paths outside the contract (e.g. /sandbox/) give none."""
    if path.startswith("/sandbox/"):
        return []
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
        return _schema_problems(_named_response_validator(name), body)
    if not documented(op, status):
        return [
            f"status {status} is not documented for {op.id} "
            f"(documented: {', '.join(sorted(op.responses))})"
        ]
    validator = _validator(op.id, status)
    return _schema_problems(validator, body) if validator else []


def _schema_problems(validator: jsonschema.Draft4Validator, body: str | None) -> list[str]:
    try:
        data = json.loads(body or "")
    except ValueError:
        return ["response body is not JSON"]
    problems = []
    for error in list(validator.iter_errors(data))[:3]:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        problems.append(f"response breaks the schema at {where}: {error.message[:200]}")
    return problems
