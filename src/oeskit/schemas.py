"""The one adapter from the contract's OpenAPI 3.0 schema objects to JSON Schema validators.

The server, the fast lane, worlds, the conformance suite and the tests all validate through
here, so `nullable`, `readOnly`/`writeOnly`, formats and `$ref` mean the same thing everywhere.
Pure: no HTTP, no store; reads nothing but the documents it is given.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import jsonschema
import jsonschema_rs
from referencing import Registry, Resource, Specification
from referencing.exceptions import Unresolvable

from oeskit import schema_words

Direction = Literal["request", "response"]

# Keywords whose value is one schema, a list of schemas, or a map of names to schemas.
_ONE_SCHEMA = frozenset({"items", "not", "additionalProperties"})
_SCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf"})
# The OpenAPI 3.0 keywords that are Draft 4's too and hold data, copied untouched (a default of
# `{"example": 1}` keeps its key). Everything else goes: annotations, `x-*`, OpenAPI-only words,
# and whatever a caller left in the node (connexion writes the whole `components` into it).
_DATA = frozenset(
    {
        "type",
        "format",
        "enum",
        "default",
        "required",
        "multipleOf",
        "maximum",
        "exclusiveMaximum",
        "minimum",
        "exclusiveMinimum",
        "maxLength",
        "minLength",
        "pattern",
        "maxItems",
        "minItems",
        "uniqueItems",
        "maxProperties",
        "minProperties",
    }
)
_COMBINED = ("allOf", "anyOf", "oneOf", "not")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})")


# ---- JSON Schema from OpenAPI ------------------------------------------------------------------


def to_json_schema(
    document: Mapping[str, Any], node: Any, *, direction: Direction = "response"
) -> dict[str, Any]:
    """`node`, an OpenAPI 3.0 schema object of `document`, as a Draft 4 JSON Schema.

    `$ref`s are looked up in `document` (through `referencing`) and inlined; a reference to a
    schema that is being inlined already (recursion) points into the result's `definitions`.
    `nullable` admits null (an enum gains null), `readOnly` properties vanish from requests
    and `writeOnly` ones from responses, annotations and `x-*` are dropped, `format` is kept.
    """
    translator = _Translator(_registry(document).resolver(), direction)
    out = translator.schema(node, translator.root)
    if not isinstance(out, dict):
        raise TypeError(f"a schema object is a mapping, not {type(out).__name__}")
    if translator.definitions:
        out = {**out, "definitions": translator.definitions}
    return out


class _Translator:
    def __init__(self, root: Any, direction: Direction) -> None:
        self.root = root
        self.hidden = "readOnly" if direction == "request" else "writeOnly"
        self.active: set[str] = set()  # references being inlined right now
        self.recursive: set[str] = set()
        self.done: dict[str, Any] = {}
        self.definitions: dict[str, Any] = {}

    def schema(self, node: Any, resolver: Any) -> Any:
        if not isinstance(node, dict):
            return node
        if "$ref" in node:  # OpenAPI 3.0 ignores a $ref's siblings
            return self.ref(str(node["$ref"]), resolver)
        out: dict[str, Any] = {}
        hidden: set[str] = set()
        for key, value in node.items():
            if key == "properties":
                hidden = {name for name, sub in value.items() if self.is_hidden(sub, resolver)}
                out[key] = {
                    name: self.schema(sub, resolver)
                    for name, sub in value.items()
                    if name not in hidden
                }
            elif key in _SCHEMA_LISTS:
                out[key] = [self.schema(sub, resolver) for sub in value]
            elif key in _ONE_SCHEMA:
                out[key] = self.schema(value, resolver)
            elif key in _DATA:
                out[key] = value
        if hidden and "required" in out:
            out["required"] = [name for name in out["required"] if name not in hidden]
            if not out["required"]:  # Draft 4 wants at least one name
                del out["required"]
        if node.get("nullable") is True:
            out = _nullable(out)
        return out

    def ref(self, ref: str, resolver: Any) -> Any:
        resolved = _lookup(resolver, ref)
        key = ref.partition("#")[2]
        if key in self.active:
            self.recursive.add(key)
            return {"$ref": "#/definitions/" + key.replace("~", "~0").replace("/", "~1")}
        if key in self.done:
            return self.done[key]
        self.active.add(key)
        try:
            out = self.schema(resolved.contents, resolved.resolver)
        finally:
            self.active.discard(key)
        self.done[key] = out
        if key in self.recursive:
            self.definitions[key] = out
        return out

    def is_hidden(self, node: Any, resolver: Any) -> bool:
        for _ in range(64):  # a chain of $refs to $refs; a cycle of bare $refs is not a schema
            if not (isinstance(node, dict) and "$ref" in node):
                return isinstance(node, dict) and node.get(self.hidden) is True
            resolved = _lookup(resolver, str(node["$ref"]))
            node, resolver = resolved.contents, resolved.resolver
        raise ValueError("a cycle of $refs that never reaches a schema")


def _nullable(out: dict[str, Any]) -> dict[str, Any]:
    kind = out.get("type")
    if isinstance(kind, str) and not any(key in out for key in _COMBINED):
        out["type"] = [kind, "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
        return out
    # Without a plain type (an allOf around a $ref, a bare enum...), null is one more branch.
    return {"anyOf": [out, {"type": "null"}]}


def _lookup(resolver: Any, ref: str) -> Any:
    try:
        return resolver.lookup(ref)
    except Unresolvable as exc:
        # referencing's message quotes the whole document: name the reference only.
        raise ValueError(f"unresolvable $ref {ref!r}") from exc


_REGISTRIES: dict[int, tuple[Mapping[str, Any], Registry[Any]]] = {}


def _registry(document: Mapping[str, Any]) -> Registry[Any]:
    """A Registry holding `document` under the empty URI, so `#/...` refs resolve in it.

    OPAQUE: an OpenAPI document is not a JSON Schema, so no `id` inside it moves the base URI.
    """
    cached = _REGISTRIES.get(id(document))
    if cached is None or cached[0] is not document:
        resource: Resource[Any] = Specification.OPAQUE.create_resource(document)
        cached = _REGISTRIES[id(document)] = (document, Registry().with_resource("", resource))
    return cached[1]


# ---- formats -----------------------------------------------------------------------------------


def is_uuid(value: object) -> bool:
    """RFC 4122 text form (8-4-4-4-12 hex digits); jsonschema-rs checks no uuid under Draft 4."""
    return not isinstance(value, str) or _UUID.fullmatch(value) is not None


def is_date_time(value: object) -> bool:
    """RFC 3339 date-time with a zone, on a real calendar day (2026-02-30 is not one)."""
    if not isinstance(value, str):
        return True
    if _DATE_TIME.fullmatch(value) is None:
        return False
    try:
        datetime.fromisoformat(value.upper())
    except ValueError:
        return False
    return True


def format_checker(formats: Iterable[str] = ("uuid", "date-time")) -> jsonschema.FormatChecker:
    """The same format checks for Python's jsonschema (worlds keep its error tree)."""
    checks: dict[str, Callable[[object], bool]] = {"uuid": is_uuid, "date-time": is_date_time}
    checker = jsonschema.FormatChecker(formats=())
    for name in formats:
        checker.checks(name)(checks[name])
    return checker


# ---- compiled validators ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """One way an instance breaks a schema: the validator's `message`, and the same in our words
    (`pointer` of the field, `said`: what was expected and what came) for error bodies.
    `branches` holds, for an anyOf/oneOf, the problems of each of its schemas."""

    path: tuple[str | int, ...]
    message: str
    keyword: str
    pointer: str = ""
    said: str = ""
    branches: tuple[tuple[Problem, ...], ...] = ()

    @property
    def where(self) -> str:
        """`settlementAmounts.x[0]`-style; `body` for the root."""
        text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in self.path)
        return text.lstrip(".") or "body"


class Validator:
    """A compiled jsonschema-rs Draft 4 validator of one adapted schema, formats checked."""

    __slots__ = ("_rs", "schema")

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        # date-time is jsonschema-rs's own (RFC 3339); uuid is ours. Any custom format makes
        # jsonschema-rs about 2x slower on a 10,000-connection body, even one without a uuid
        # (measured, 0.60), so it is given only to schemas that use it: the v2 request body
        # has none.
        custom = {"uuid": is_uuid} if _uses_format(schema, "uuid") else None
        self._rs = jsonschema_rs.Draft4Validator(schema, validate_formats=True, formats=custom)

    def is_valid(self, instance: Any) -> bool:
        return bool(self._rs.is_valid(instance))

    def problems(self, instance: Any, limit: int | None = 10) -> list[Problem]:
        """Up to `limit` problems (all with None), in the validator's order."""
        out: list[Problem] = []
        for error in self._rs.iter_errors(instance):
            out.append(self._problem(error))
            if limit is not None and len(out) >= limit:
                break
        return out

    def _problem(self, error: Any) -> Problem:
        schema_path = list(error.schema_path)
        keyword = str(schema_path[-1]) if schema_path else ""
        holder: Any = self.schema
        for part in schema_path[:-1]:  # the schema object that holds the failing keyword
            try:
                holder = holder[part]
            except (KeyError, IndexError, TypeError):
                holder = {}
                break
        path = tuple(error.instance_path)
        where, said = schema_words.complaint(
            path, keyword, holder if isinstance(holder, dict) else {}, error.instance
        )
        context = getattr(error.kind, "context", None) if keyword in ("anyOf", "oneOf") else None
        branches = tuple(tuple(self._problem(e) for e in branch) for branch in context or ())
        return Problem(path, error.message, keyword, where, said, branches)


def _uses_format(node: Any, name: str) -> bool:
    if isinstance(node, dict):
        return node.get("format") == name or any(_uses_format(v, name) for v in node.values())
    if isinstance(node, list):
        return any(_uses_format(v, name) for v in node)
    return False


_COMPILED: dict[tuple[int, int, str], tuple[object, object, Validator]] = {}


def compile(
    document: Mapping[str, Any], node: Any, *, direction: Direction = "response"
) -> Validator:
    """The Validator of `node` in `document`, memoized by identity: compiling the v2 body
    schema costs milliseconds, and connexion asks for it on every request."""
    key = (id(document), id(node), direction)
    cached = _COMPILED.get(key)
    if cached is None or cached[0] is not document or cached[1] is not node:
        validator = Validator(to_json_schema(document, node, direction=direction))
        cached = _COMPILED[key] = (document, node, validator)
    return cached[2]
