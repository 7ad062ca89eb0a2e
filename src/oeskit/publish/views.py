"""What the reference pages show, as plain data for the templates: operations with their
parameters, bodies and responses, and schemas flattened to indented rows.

`$ref`s are followed; a schema already open on the way down is shown by name only (recursive
schemas), and nesting stops at a fixed depth.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from oeskit.publish.documents import deref, operations, parameters

_MAX_DEPTH = 8
_CONSTRAINTS = (
    "format",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "default",
)


@dataclass(frozen=True, slots=True)
class SchemaRow:
    depth: int
    name: str
    type: str
    required: bool
    constraints: str
    description: str


@dataclass(frozen=True, slots=True)
class Body:
    label: str  # media type, or "status media type" for a response
    description: str
    rows: tuple[SchemaRow, ...]
    example: str  # pretty JSON, or ""


@dataclass(frozen=True, slots=True)
class Response:
    status: str
    description: str
    bodies: tuple[Body, ...]


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    location: str
    required: bool
    type: str
    description: str


@dataclass(frozen=True, slots=True)
class Operation:
    id: str
    method: str
    path: str
    summary: str
    description: str
    tags: tuple[str, ...]
    parameters: tuple[Parameter, ...]
    request: tuple[Body, ...]
    responses: tuple[Response, ...]
    rules: tuple[str, ...]


def operation_views(document: dict[str, Any], base: str = "") -> list[Operation]:
    """Every operation of the document, in document order; `base` prefixes the path."""
    rules_by_op: dict[str, list[str]] = {}
    for rule in document.get("x-oeskit-rules") or []:
        if isinstance(rule, dict):
            for op_id in rule.get("operations") or []:
                rules_by_op.setdefault(str(op_id), []).append(str(rule.get("id")))
    out = []
    for path, method, op in operations(document):
        op_id = str(op.get("operationId") or f"{method}-{path}")
        body, _ = deref(document, op.get("requestBody"))
        out.append(
            Operation(
                id=op_id,
                method=method.upper(),
                path=base.rstrip("/") + path,
                summary=str(op.get("summary") or ""),
                description=str(op.get("description") or ""),
                tags=tuple(str(t) for t in op.get("tags") or ()),
                parameters=tuple(
                    _parameter(document, p) for p in parameters(document, path, method).values()
                ),
                request=_bodies(document, body),
                responses=tuple(
                    _response(document, str(status), raw)
                    for status, raw in (op.get("responses") or {}).items()
                ),
                rules=tuple(rules_by_op.get(op_id, ())),
            )
        )
    return out


def _parameter(document: dict[str, Any], param: dict[str, Any]) -> Parameter:
    schema, refs = deref(document, param.get("schema"))
    return Parameter(
        name=str(param.get("name")),
        location=str(param.get("in")),
        required=bool(param.get("required")),
        type=_type(schema if isinstance(schema, dict) else {}, refs),
        description=str(param.get("description") or ""),
    )


def _response(document: dict[str, Any], status: str, raw: Any) -> Response:
    response, _ = deref(document, raw)
    response = response if isinstance(response, dict) else {}
    return Response(status, str(response.get("description") or ""), _bodies(document, response))


def _bodies(document: dict[str, Any], node: Any) -> tuple[Body, ...]:
    content = node.get("content") if isinstance(node, dict) else None
    out = []
    for media, media_object in (content or {}).items():
        if not isinstance(media_object, dict):
            continue
        example = media_object.get("example")
        if example is None and isinstance(media_object.get("examples"), dict):
            first = next(iter(media_object["examples"].values()), None)
            resolved, _ = deref(document, first)
            example = resolved.get("value") if isinstance(resolved, dict) else None
        out.append(
            Body(
                label=str(media),
                description=str(node.get("description") or ""),
                rows=tuple(schema_rows(document, media_object.get("schema"))),
                example="" if example is None else json.dumps(example, indent=2),
            )
        )
    return tuple(out)


def schema_rows(document: dict[str, Any], node: Any) -> list[SchemaRow]:
    rows: list[SchemaRow] = []
    _rows(document, node, "(body)", True, 0, frozenset(), rows)
    return rows


def _rows(
    document: dict[str, Any],
    node: Any,
    name: str,
    required: bool,
    depth: int,
    open_refs: frozenset[str],
    rows: list[SchemaRow],
) -> None:
    schema, refs = deref(document, node)
    schema = schema if isinstance(schema, dict) else {}
    recursive = bool(set(refs) & open_refs)
    rows.append(
        SchemaRow(
            depth,
            name,
            _type(schema, refs) + (" (recursive)" if recursive else ""),
            required,
            _constraints(schema),
            str(schema.get("description") or ""),
        )
    )
    if recursive or depth >= _MAX_DEPTH:
        return
    open_refs = open_refs | set(refs)
    needed = set(schema.get("required") or [])
    for prop, sub in (schema.get("properties") or {}).items():
        _rows(document, sub, str(prop), prop in needed, depth + 1, open_refs, rows)
    if "items" in schema:
        _rows(document, schema["items"], "[item]", False, depth + 1, open_refs, rows)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        _rows(document, extra, "{any name}", False, depth + 1, open_refs, rows)
    for keyword in ("anyOf", "oneOf", "allOf"):
        for index, sub in enumerate(schema.get(keyword) or []):
            label = f"{keyword} [{index + 1}]"
            _rows(document, sub, label, False, depth + 1, open_refs, rows)


def _type(schema: dict[str, Any], refs: tuple[str, ...]) -> str:
    kind = schema.get("type")
    if kind is None:
        kind = next((k for k in ("anyOf", "oneOf", "allOf") if k in schema), "any")
    label = str(kind)
    if schema.get("nullable"):
        label += " | null"
    if refs:
        label += f" ({refs[-1].rsplit('/', 1)[-1]})"
    return label


def _constraints(schema: dict[str, Any]) -> str:
    parts = [f"{key}: {schema[key]}" for key in _CONSTRAINTS if key in schema]
    if "enum" in schema:
        parts.append("one of " + ", ".join(str(v) for v in schema["enum"]))
    if schema.get("additionalProperties") is False:
        parts.append("no other properties")
    return "; ".join(parts)
