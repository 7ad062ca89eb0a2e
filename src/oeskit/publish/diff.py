"""`oeskit diff`: every change between two contract documents, classed for partners.

Operations are matched by method and path; parameters by (in, name); bodies and responses by
media type and status. Schemas are compared by `diff_schema`; the rules catalogues
(`x-oeskit-rules` and its siblings) by rule id. Nothing here assumes the two documents are
related: missing or odd parts compare as empty.
"""

from __future__ import annotations

from typing import Any

from oeskit.publish.changes import Change, Changes
from oeskit.publish.diff_schema import SchemaDiff
from oeskit.publish.documents import (
    as_mapping,
    deref,
    media_types,
    operations,
    parameters,
    pointer,
    rule_catalogues,
)


def diff(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """Every change from `old` to `new`, operations first, then the rules catalogues."""
    out = Changes()
    schemas = SchemaDiff(old, new, out)
    old_ops = {(m, p): op for p, m, op in operations(old)}
    new_ops = {(m, p): op for p, m, op in operations(new)}
    for (method, path), op in new_ops.items():
        out.operation = f"{method.upper()} {path}"
        if (method, path) not in old_ops:
            out.add("non-breaking", "operation-added", pointer("paths", path, method), "new")
            continue
        _operation(old, new, path, method, old_ops[(method, path)], op, schemas, out)
    for (method, path), _op in old_ops.items():
        if (method, path) not in new_ops:
            out.operation = f"{method.upper()} {path}"
            why = "clients calling it get 404 or 405"
            out.add("breaking", "operation-removed", pointer("paths", path, method), why)
    out.operation = ""
    _catalogues(old, new, out)
    return out.items


def _operation(
    old_doc: dict[str, Any],
    new_doc: dict[str, Any],
    path: str,
    method: str,
    old: dict[str, Any],
    new: dict[str, Any],
    schemas: SchemaDiff,
    out: Changes,
) -> None:
    base = pointer("paths", path, method)
    _parameters(old_doc, new_doc, path, method, base, schemas, out)
    _request_body(old_doc, new_doc, old, new, base, schemas, out)
    _responses(old_doc, new_doc, old, new, base, schemas, out)


def _parameters(
    old_doc: dict[str, Any],
    new_doc: dict[str, Any],
    path: str,
    method: str,
    base: str,
    schemas: SchemaDiff,
    out: Changes,
) -> None:
    before = parameters(old_doc, path, method)
    after = parameters(new_doc, path, method)
    for key, param in after.items():
        where = f"{base}/parameters" + pointer(*key)
        required = bool(param.get("required"))
        if key not in before:
            if required:
                why = f"new required {key[0]} parameter: existing requests lack it"
                out.add("breaking", "request-parameter-required-added", where, why)
            else:
                out.add("non-breaking", "request-parameter-added", where, "new optional")
            continue
        if required and not before[key].get("required"):
            why = "existing clients may omit it"
            out.add("breaking", "request-parameter-became-required", where, why)
        elif before[key].get("required") and not required:
            out.add("non-breaking", "request-parameter-became-optional", where, "optional now")
        schemas.compare(
            before[key].get("schema"), param.get("schema"), f"{where}/schema", "request"
        )
    for key in [k for k in before if k not in after]:
        where = f"{base}/parameters" + pointer(*key)
        why = f"{key[0]} parameter no longer described; servers may refuse or ignore it"
        out.add("warning", "request-parameter-removed", where, why)


def _request_body(
    old_doc: dict[str, Any],
    new_doc: dict[str, Any],
    old: dict[str, Any],
    new: dict[str, Any],
    base: str,
    schemas: SchemaDiff,
    out: Changes,
) -> None:
    before, _ = deref(old_doc, old.get("requestBody"))
    after, _ = deref(new_doc, new.get("requestBody"))
    where = f"{base}/requestBody"
    if not isinstance(after, dict):
        if isinstance(before, dict):
            out.add("breaking", "request-body-removed", where, "bodies clients send are refused")
        return
    if not isinstance(before, dict):
        if after.get("required"):
            why = "a new required body: existing requests lack it"
            out.add("breaking", "request-body-required-added", where, why)
        else:
            out.add("non-breaking", "request-body-added", where, "new optional body")
        return
    if after.get("required") and not before.get("required"):
        out.add("breaking", "request-body-became-required", where, "existing clients may omit it")
    old_media, new_media = media_types(before), media_types(after)
    for media, body in new_media.items():
        media_where = f"{where}/content" + pointer(media)
        if media not in old_media:
            out.add("non-breaking", "request-media-type-added", media_where, f"{media} accepted")
            continue
        schemas.compare(
            old_media[media].get("schema"), body.get("schema"), f"{media_where}/schema", "request"
        )
    for media in [m for m in old_media if m not in new_media]:
        why = f"{media} bodies are no longer accepted"
        out.add("breaking", "request-media-type-removed", f"{where}/content" + pointer(media), why)


def _responses(
    old_doc: dict[str, Any],
    new_doc: dict[str, Any],
    old: dict[str, Any],
    new: dict[str, Any],
    base: str,
    schemas: SchemaDiff,
    out: Changes,
) -> None:
    before = as_mapping(old.get("responses"))
    after = as_mapping(new.get("responses"))
    for status, raw in after.items():
        where = f"{base}/responses" + pointer(status)
        if status not in before:
            out.add("non-breaking", "response-status-added", where, f"status {status} documented")
            continue
        old_response, _ = deref(old_doc, before[status])
        new_response, _ = deref(new_doc, raw)
        old_media = media_types(old_response)
        new_media = media_types(new_response)
        for media, body in new_media.items():
            if media in old_media:
                media_where = f"{where}/content" + pointer(media, "schema")
                old_schema = old_media[media].get("schema")
                schemas.compare(old_schema, body.get("schema"), media_where, "response")
        for media in [m for m in old_media if m not in new_media]:
            why = f"{media} answers are gone; clients that read them break"
            out.add(
                "breaking", "response-media-type-removed", f"{where}/content" + pointer(media), why
            )
    for status in [s for s in before if s not in after]:
        where = f"{base}/responses" + pointer(status)
        if status.startswith("2"):
            why = f"success status {status} removed: clients expecting it break"
            out.add("breaking", "response-success-status-removed", where, why)
        else:
            why = f"status {status} no longer documented; clients may still handle it"
            out.add("warning", "response-status-removed", where, why)


def _catalogues(old: dict[str, Any], new: dict[str, Any], out: Changes) -> None:
    before, after = rule_catalogues(old), rule_catalogues(new)
    for key in sorted(before.keys() | after.keys()):
        old_rules = {str(r.get("id")): r for r in before.get(key, [])}
        new_rules = {str(r.get("id")): r for r in after.get(key, [])}
        for rule_id, rule in new_rules.items():
            where = pointer(key, rule_id)
            if rule_id not in old_rules:
                out.add("non-breaking", "rule-added", where, f"new rule {rule_id}")
                continue
            _rule(rule_id, old_rules[rule_id], rule, where, out)
        for rule_id in [r for r in old_rules if r not in new_rules]:
            why = f"rule {rule_id} removed: partners looking it up find nothing"
            out.add("breaking", "rule-removed", pointer(key, rule_id), why)


def _rule(rule_id: str, old: dict[str, Any], new: dict[str, Any], where: str, out: Changes) -> None:
    if str(old.get("status")) != str(new.get("status")):
        why = f"{rule_id} answers {new.get('status')} instead of {old.get('status')}"
        out.add("breaking", "rule-status-changed", f"{where}/status", why)
    old_ops, new_ops = _names(old.get("operations")), _names(new.get("operations"))
    for operation_id in old_ops:
        if operation_id not in new_ops:
            why = f"{operation_id} no longer enforces {rule_id}"
            out.add("breaking", "rule-operation-dropped", f"{where}/operations", why)
    for operation_id in new_ops:
        if operation_id not in old_ops:
            why = f"{operation_id} now enforces {rule_id}: requests it accepted may be refused"
            out.add("warning", "rule-operation-added", f"{where}/operations", why)
    if old.get("title") != new.get("title"):
        out.add("non-breaking", "rule-statement-changed", f"{where}/title", "statement reworded")


def _names(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []
