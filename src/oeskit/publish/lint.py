"""`oeskit lint`: what a published contract must hold, as findings (data, never exceptions).

Checks (ids are stable): openapi-valid, ref-resolves, example-valid, operation-id,
operation-summary, request-example, response-example, error-schema, rule-id-unique,
rule-operation-known, rule-applies, rule-status-documented, rule-has-scenario. Examples are
validated with the shared contract adapter (`oeskit.schemas`), formats included.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from oeskit import spec
from oeskit.publish.documents import (
    Document,
    as_mapping,
    deref,
    media_types,
    operations,
    pointer,
    rule_catalogues,
)

Severity = Literal["error", "warning"]
ERROR_SCHEMA = "#/components/schemas/Error"
CHECKS = {
    "openapi-valid": "The document is valid OpenAPI 3.0.",
    "ref-resolves": "Every $ref points at something in the document.",
    "example-valid": "Every example validates against its schema, formats included.",
    "operation-id": "Every operation has an operationId.",
    "operation-summary": "Every operation has a summary.",
    "request-example": "Every request body media type has an example.",
    "response-example": "Every response media type has an example.",
    "error-schema": "Every 4xx/5xx response uses the Error schema.",
    "rule-id-unique": "Every catalogued rule has a unique id.",
    "rule-operation-known": "Every operation a rule names exists.",
    "rule-applies": (
        "A rule that applies to every operation (or to every operation with a body) lists "
        "each of them."
    ),
    "rule-status-documented": (
        "Every operation of a rule, listed or covered by its appliesTo, documents the rule's "
        "status: every status the server can produce for an operation is in the contract."
    ),
    "rule-has-scenario": "Every rule is named by a scenario (when scenarios are at hand).",
    "component-unused": "Every component is referenced (a warning).",
}


@dataclass(frozen=True, slots=True)
class Finding:
    severity: Severity
    check: str
    source: str
    path: str  # JSON pointer in the document
    message: str


def default_specs() -> list[Path]:
    return [spec.contract_path(), spec.sandbox_path(), spec.partner_hosted_path()]


def scenario_rules(directory: Path | None) -> dict[str, list[str]] | None:
    """Rule id -> ids of the scenarios that name it; None when no scenarios are at hand."""
    from oeskit.conformance.scenario import load_scenarios, scenarios_dir

    folder = directory or scenarios_dir()
    if not folder.is_dir():
        return None
    out: dict[str, list[str]] = {}
    for scenario in load_scenarios(folder):
        for rule in scenario.rules:
            out.setdefault(rule, []).append(scenario.id)
    return out


def lint(document: Document, scenarios: dict[str, list[str]] | None) -> list[Finding]:
    """Every finding for one document, in check order."""
    checks = (_valid, _refs, _operations, _examples, _error_schema, _unused)
    found = [f for check in checks for f in check(document)]
    return found + list(_catalogue(document, scenarios))


def _finding(doc: Document, severity: Severity, check: str, path: str, msg: str) -> Finding:
    return Finding(severity, check, doc.source, path, msg)


def _valid(doc: Document) -> Iterator[Finding]:
    from openapi_spec_validator import OpenAPIV30SpecValidator

    # Errors from the validator name a JSON path; cap them: one broken schema can yield hundreds.
    errors = OpenAPIV30SpecValidator(doc.data).iter_errors()
    try:
        for index, error in enumerate(errors):
            if index == 20:
                break
            where = pointer(*error.absolute_path) if hasattr(error, "absolute_path") else ""
            yield _finding(doc, "error", "openapi-valid", where, _short(str(error.message)))
    except Exception as exc:  # it raises (not yields) on e.g. a dangling $ref
        why = f"validation stopped: {exc.__class__.__name__}: {_short(str(exc))}"
        yield _finding(doc, "error", "openapi-valid", "", why)


def _short(text: str, limit: int = 200) -> str:
    """One line of at most `limit` characters (validator messages can quote whole documents)."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _walk(node: Any, *path: object) -> Iterator[tuple[tuple[object, ...], dict[str, Any]]]:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, *path, key)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, *path, index)


def _refs(doc: Document) -> Iterator[Finding]:
    for path, node in _walk(doc.data):
        ref = node.get("$ref")
        if not isinstance(ref, str):
            continue
        resolved, _ = deref(doc.data, node)
        if resolved is None or (isinstance(resolved, dict) and "$ref" in resolved):
            why = f"$ref {ref} does not resolve" + ("" if ref.startswith("#") else " (not local)")
            yield _finding(doc, "error", "ref-resolves", pointer(*path), why)


def _operations(doc: Document) -> Iterator[Finding]:
    for path, method, op in operations(doc.data):
        where = pointer("paths", path, method)
        label = f"{method.upper()} {path}"
        for field in ("operationId", "summary"):
            if not op.get(field):
                check = "operation-id" if field == "operationId" else "operation-summary"
                yield _finding(doc, "error", check, where, f"{label} has no {field}")
        body, _ = deref(doc.data, op.get("requestBody"))
        for media, content in media_types(body).items():
            if not _has_example(content):
                why = f"{label} request body {media} has no example"
                yield _finding(doc, "error", "request-example", f"{where}/requestBody", why)
        for status, response in as_mapping(op.get("responses")).items():
            resolved, _ = deref(doc.data, response)
            for media, content in media_types(resolved).items():
                if not _has_example(content):
                    why = f"{label} response {status} {media} has no example"
                    at = f"{where}/responses" + pointer(status)
                    yield _finding(doc, "error", "response-example", at, why)


def _examples(doc: Document) -> Iterator[Finding]:
    """Every example of a media type, parameter, header or schema validates against its schema."""
    from oeskit import schemas

    for path, node in _walk(doc.data):
        if not ("example" in node or "examples" in node):
            continue
        if "schema" in node:  # a media type, parameter or header: its schema is beside it
            schema = node["schema"]
        elif _is_schema(path) and "example" in node:  # a schema with an example of itself
            schema = node
        else:
            continue
        direction: Literal["request", "response"] = (
            "request" if "requestBody" in path or "parameters" in path else "response"
        )
        try:
            validator = schemas.compile(doc.data, schema, direction=direction)
        except Exception as exc:  # a broken schema is a finding, not a crash
            why = f"schema cannot be compiled to check the example: {_short(str(exc))}"
            yield _finding(doc, "error", "example-valid", pointer(*path, "schema"), why)
            continue
        for name, value in _example_values(doc, node):
            for problem in validator.problems(value):
                at = pointer(*path, *name)
                why = f"example does not match its schema at {problem.where}: {problem.message}"
                yield _finding(doc, "error", "example-valid", at, why)


def _is_schema(path: tuple[object, ...]) -> bool:
    """Whether the node at `path` is a schema object (so its `example` is one of itself)."""
    parent = path[-2] if len(path) >= 2 else None
    return parent in ("schemas", "properties", "allOf", "anyOf", "oneOf") or (
        bool(path) and path[-1] in ("items", "additionalProperties", "not", "schema")
    )


def _example_values(doc: Document, node: dict[str, Any]) -> Iterator[tuple[tuple[str, ...], Any]]:
    if "example" in node:
        yield ("example",), node["example"]
    for key, example in as_mapping(node.get("examples")).items():
        resolved, _ = deref(doc.data, example)
        if isinstance(resolved, dict) and "value" in resolved:
            yield ("examples", key, "value"), resolved["value"]


def _unused(doc: Document) -> Iterator[Finding]:
    used = {node["$ref"] for _, node in _walk(doc.data) if isinstance(node.get("$ref"), str)}
    for kind, members in as_mapping(doc.data.get("components")).items():
        if kind == "securitySchemes":  # used by name in `security`, never by $ref
            continue
        for name in as_mapping(members):
            ref = "#" + pointer("components", kind, name)
            if ref not in used:
                at = pointer("components", kind, name)
                yield _finding(doc, "warning", "component-unused", at, f"{ref} is never used")


def _error_schema(doc: Document) -> Iterator[Finding]:
    has_error = isinstance(deref(doc.data, {"$ref": ERROR_SCHEMA})[0], dict)
    for path, method, op in operations(doc.data):
        for status, response in as_mapping(op.get("responses")).items():
            if status[:1] not in ("4", "5"):
                continue
            resolved, _ = deref(doc.data, response)
            at = pointer("paths", path, method, "responses", status)
            for media, content in media_types(resolved).items():
                schema = content.get("schema")
                ref = schema.get("$ref") if isinstance(schema, dict) else None
                if ref != ERROR_SCHEMA:
                    why = f"{method.upper()} {path} {status} {media} does not use {ERROR_SCHEMA}"
                    if not has_error:
                        why += " (the document defines none)"
                    yield _finding(doc, "error", "error-schema", at, why)


def _catalogue(doc: Document, scenarios: dict[str, list[str]] | None) -> Iterator[Finding]:
    by_id = {op.get("operationId"): op for _, _, op in operations(doc.data)}
    for key, rules in rule_catalogues(doc.data).items():
        seen: set[str] = set()
        ids = {str(rule.get("id")) for rule in rules}
        # Scenarios are "at hand" for a catalogue when they name at least one of its rules; the
        # control plane's catalogue, for one, is proved by unit tests rather than scenarios.
        proven = scenarios is not None and any(rule_id in scenarios for rule_id in ids)
        for index, rule in enumerate(rules):
            rule_id = str(rule.get("id"))
            at = pointer(key, index)
            if rule_id in seen or not rule.get("id"):
                yield _finding(doc, "error", "rule-id-unique", at, f"rule id {rule_id} repeats")
            seen.add(rule_id)
            yield from _rule_operations(doc, rule, rule_id, at, by_id)
            if proven and scenarios is not None and rule_id not in scenarios:
                why = f"rule {rule_id} is named by no scenario"
                yield _finding(doc, "error", "rule-has-scenario", at, why)


# What a rule's `appliesTo` covers: rules the server applies before any handler is chosen.
APPLIES_TO = ("every-operation", "operations-with-body")


def _covered(doc: Document, applies: object) -> list[str]:
    """The operationIds a rule's `appliesTo` covers, in document order."""
    out = []
    for _, _, op in operations(doc.data):
        if applies == "every-operation" or (
            applies == "operations-with-body" and op.get("requestBody") is not None
        ):
            out.append(str(op.get("operationId")))
    return out


def _rule_operations(
    doc: Document, rule: dict[str, Any], rule_id: str, at: str, by_id: dict[Any, dict[str, Any]]
) -> Iterator[Finding]:
    status = str(rule.get("status"))
    listed = rule.get("operations")
    listed = [str(o) for o in listed] if isinstance(listed, list) else []
    applies = rule.get("appliesTo")
    covered: list[str] = []
    if applies is not None:
        if applies not in APPLIES_TO:
            why = f"rule {rule_id} has appliesTo {applies!r}; known: {', '.join(APPLIES_TO)}"
            yield _finding(doc, "error", "rule-applies", f"{at}/appliesTo", why)
        covered = _covered(doc, applies)
        for operation_id in covered:
            if operation_id not in listed:
                why = f"rule {rule_id} applies to {operation_id} ({applies}) but does not list it"
                yield _finding(doc, "error", "rule-applies", f"{at}/operations", why)
    for operation_id in dict.fromkeys([*listed, *covered]):
        op = by_id.get(operation_id)
        if op is None:
            why = f"rule {rule_id} names operation {operation_id}, which does not exist"
            yield _finding(doc, "error", "rule-operation-known", f"{at}/operations", why)
            continue
        documented = {str(s) for s in as_mapping(op.get("responses"))}
        if status not in documented and "default" not in documented:
            why = f"rule {rule_id} answers {status} but {operation_id} does not document it"
            yield _finding(doc, "error", "rule-status-documented", f"{at}/status", why)


def _has_example(content: dict[str, Any]) -> bool:
    return "example" in content or bool(content.get("examples"))
