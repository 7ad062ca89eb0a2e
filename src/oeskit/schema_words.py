"""What a JSON Schema keyword asks for, said in the project's own words for error bodies.

Validators (jsonschema-rs for bodies, connexion's jsonschema for parameters) word their errors
for developers of validators ("Failed validating 'type' in schema: {...}"); an error body names
the field by its JSON pointer, what the contract expects there, and what was sent. Pure text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

_TYPES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean (true or false)",
    "object": "a JSON object",
    "array": "an array",
    "null": "null",
}
_FORMATS = {
    "uuid": "a UUID (8-4-4-4-12 hex digits)",
    "date-time": "an RFC 3339 date-time with a zone, e.g. 2025-06-01T00:00:00.000Z",
}
_SHOWN = 40  # longest sent value quoted back; longer ones are described by their size


def pointer(path: Sequence[str | int]) -> str:
    """The RFC 6901 JSON pointer of `path` ("" is the whole document)."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def expectation(keyword: str, value: Any, schema: Mapping[str, Any] | None = None) -> str:
    """What `keyword: value` (a keyword of `schema`) asks of a value, e.g. `a string of at most
    1000 characters`."""
    schema = schema or {}
    if keyword == "type":
        kinds = value if isinstance(value, list) else [value]
        return " or ".join(_TYPES.get(str(kind), str(kind)) for kind in kinds)
    if keyword == "maxLength":
        return f"a string of at most {value} characters"
    if keyword == "minLength":
        return "a non-empty string" if value == 1 else f"a string of at least {value} characters"
    if keyword == "maxItems":
        return f"at most {value} values"
    if keyword == "minItems":
        return f"at least {value} values"
    if keyword in ("minimum", "maximum"):
        strict = schema.get("exclusiveMinimum" if keyword == "minimum" else "exclusiveMaximum")
        sign = (">" if keyword == "minimum" else "<") + ("" if strict is True else "=")
        return f"a number {sign} {value}"
    if keyword == "pattern":
        if "x-oeskit-content" in schema:  # a parameter holding JSON text (its media type)
            return "the JSON text of an object"
        return f"text matching the pattern {value}"
    if keyword == "format":
        return _FORMATS.get(str(value), f"a {value}")
    if keyword == "enum":
        return "one of " + ", ".join(_json(option) for option in value)
    if keyword == "required":
        return "this property, which is required"
    if keyword == "additionalProperties":
        return "only the properties the contract documents"
    if keyword in ("anyOf", "oneOf"):
        return "a value in one of the shapes the contract documents"
    return f"a value that meets the contract's {keyword!r} constraint"


def shown(instance: Any) -> str:
    """The sent value as an error message quotes it: short values in JSON, long ones by size."""
    if isinstance(instance, str) and len(instance) > _SHOWN:
        return f"a string of {len(instance)} characters"
    if isinstance(instance, (list, dict)) and len(instance) > 3:
        kind = "an array" if isinstance(instance, list) else "an object"
        return f"{kind} of {len(instance)} members"
    text = _json(instance)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."


def missing(required: Sequence[str], instance: Any) -> str | None:
    """The first name of `required` that `instance` lacks (None when it lacks none)."""
    if not isinstance(instance, Mapping):
        return None
    return next((name for name in required if name not in instance), None)


def unexpected(schema: Mapping[str, Any], instance: Any) -> list[str]:
    """The members of `instance` that `schema` (with `additionalProperties: false`) forbids."""
    if not isinstance(instance, Mapping):
        return []
    named = schema.get("properties") or {}
    return sorted(str(name) for name in instance if name not in named)


def _json(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return repr(value)


def complaint(
    path: Sequence[str | int], keyword: str, schema: Mapping[str, Any], instance: Any
) -> tuple[str, str]:
    """(JSON pointer, words) for `instance` at `path` breaking `keyword` of `schema`, the schema
    object holding the keyword. A missing or unexpected property is pointed at by its own name."""
    value = schema.get(keyword)
    if keyword == "required" and isinstance(value, list):
        name = missing(value, instance)
        if name is not None:
            return pointer([*path, name]), "is required but missing"
    if keyword == "additionalProperties" and value is False:
        extra = unexpected(schema, instance)
        if extra:
            return pointer([*path, extra[0]]), "is not a property the contract documents"
    return pointer(path), f"expected {expectation(keyword, value, schema)}, got {shown(instance)}"
