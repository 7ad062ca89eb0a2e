"""The one contract adapter (oeskit.schemas): OpenAPI 3.0 schema objects as Draft 4 JSON Schema
and compiled validators. Tiny documents built here, plus the real contract where it matters."""

from __future__ import annotations

from typing import Any

import pytest

from oeskit import schemas, spec


def document(**components: Any) -> dict[str, Any]:
    return {"openapi": "3.0.3", "components": {"schemas": components}}


def test_nullable_with_type_admits_null() -> None:
    """`nullable` beside a type becomes a type union with null."""
    node = {"type": "string", "nullable": True}
    assert schemas.to_json_schema({}, node) == {"type": ["string", "null"]}
    assert schemas.compile({}, node).is_valid(None)


def test_nullable_without_type_admits_null() -> None:
    """`nullable` without a type (around an allOf) becomes an anyOf with null; the rest holds."""
    doc = document(Stamp={"type": "string", "format": "date-time"})
    node = {"nullable": True, "allOf": [{"$ref": "#/components/schemas/Stamp"}]}
    validator = schemas.compile(doc, node)
    assert validator.is_valid(None)
    assert validator.is_valid("2026-01-01T00:00:00Z")
    assert not validator.is_valid("yesterday")


def test_nullable_enum_gains_null() -> None:
    """A nullable enum lists null too (an enum alone would still refuse it)."""
    node = {"type": "string", "enum": ["a", "b"], "nullable": True}
    assert schemas.to_json_schema({}, node)["enum"] == ["a", "b", None]
    assert schemas.compile({}, node).is_valid(None)


def test_not_nullable_refuses_null() -> None:
    """Without `nullable`, null breaks the type."""
    (problem,) = schemas.compile({}, {"type": "string"}).problems(None)
    assert (problem.keyword, problem.where) == ("type", "body")


OBJECT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "secret", "name"],
    "properties": {
        "id": {"type": "string", "readOnly": True},
        "secret": {"$ref": "#/components/schemas/Secret"},
        "name": {"type": "string"},
    },
}


def test_read_only_property_is_dropped_from_requests() -> None:
    """In a request, a readOnly property is neither required nor accepted."""
    doc = document(Secret={"type": "string", "writeOnly": True})
    out = schemas.to_json_schema(doc, OBJECT, direction="request")
    assert set(out["properties"]) == {"secret", "name"}
    assert out["required"] == ["secret", "name"]


def test_write_only_property_is_dropped_from_responses() -> None:
    """In a response, a writeOnly property (here behind a $ref) is neither required nor shown."""
    doc = document(Secret={"type": "string", "writeOnly": True})
    out = schemas.to_json_schema(doc, OBJECT, direction="response")
    assert set(out["properties"]) == {"id", "name"}
    assert out["required"] == ["id", "name"]
    assert schemas.compile(doc, OBJECT).is_valid({"id": "1", "name": "n"})


def test_property_names_are_not_keywords() -> None:
    """Properties called `format`, `example`, `description` or `x-note` are fields, kept."""
    node = {
        "type": "object",
        "required": ["format", "example"],
        "properties": {
            "format": {"type": "string", "example": "dropped"},
            "example": {"type": "integer"},
            "description": {"type": "string"},
            "x-note": {"type": "string"},
        },
        "example": {"format": "x"},
        "x-oeskit-rules": ["OES-X-001"],
    }
    out = schemas.to_json_schema({}, node)
    assert out == {
        "type": "object",
        "required": ["format", "example"],
        "properties": {
            "format": {"type": "string"},
            "example": {"type": "integer"},
            "description": {"type": "string"},
            "x-note": {"type": "string"},
        },
    }
    (problem,) = schemas.compile({}, node).problems({"format": "x", "example": "1"})
    assert (problem.where, problem.keyword) == ("example", "type")


def test_defaults_and_enums_are_data() -> None:
    """A default or enum value holding keyword-like keys is copied untouched."""
    node = {"type": "object", "default": {"example": 1, "x-a": 2}, "enum": [{"nullable": True}]}
    out = schemas.to_json_schema({}, node)
    assert out["default"] == {"example": 1, "x-a": 2}
    assert out["enum"] == [{"nullable": True}]


@pytest.mark.parametrize(
    ("fmt", "bad", "good"),
    [
        ("uuid", "not-a-uuid", "5a1f7f0e-0c1d-4f7e-9a0b-7d0d6b1e0001"),
        ("date-time", "2026-02-30T00:00:00Z", "2026-02-28T23:59:59.5+01:00"),
        ("date-time", "2026-02-28T00:00:00", "2026-02-28T00:00:00z"),
    ],
    ids=["uuid", "date-time-no-such-day", "date-time-no-zone"],
)
def test_formats_are_checked(fmt: str, bad: str, good: str) -> None:
    """uuid and RFC 3339 date-time are checked by the compiled validator and by the Python
    format checker worlds use, alike."""
    node = {"type": "string", "format": fmt}
    validator = schemas.compile({}, node)
    (problem,) = validator.problems(bad)
    assert problem.keyword == "format"
    assert validator.is_valid(good)
    checker = schemas.format_checker()
    assert (checker.conforms(bad, fmt), checker.conforms(good, fmt)) == (False, True)


def test_ref_chain_is_followed() -> None:
    """A $ref to a $ref to a schema ends at the schema, whatever the chain's length."""
    doc = document(A={"$ref": "#/components/schemas/B"}, B={"$ref": "#/components/schemas/C"})
    doc["components"]["schemas"]["C"] = {"type": "integer", "minimum": 1}
    assert schemas.to_json_schema(doc, {"$ref": "#/components/schemas/A"}) == {
        "type": "integer",
        "minimum": 1,
    }


def test_recursive_ref_goes_through_definitions() -> None:
    """A schema that contains itself (a tree) is validated to any depth."""
    doc = document(
        Node={
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string"},
                "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
            },
        }
    )
    validator = schemas.compile(doc, {"$ref": "#/components/schemas/Node"})
    deep = {"name": "a", "children": [{"name": "b", "children": [{"name": "c"}]}]}
    assert validator.is_valid(deep)
    deep["children"][0]["children"][0]["name"] = 3
    (problem,) = validator.problems(deep)
    assert problem.where == "children[0].children[0].name"


def test_unresolvable_ref_names_the_ref() -> None:
    """A $ref to nothing fails with the reference, not a dump of the document."""
    with pytest.raises(ValueError, match=r"unresolvable \$ref '#/components/schemas/Nope'"):
        schemas.to_json_schema(document(), {"$ref": "#/components/schemas/Nope"})


def test_compile_is_memoized() -> None:
    """The same document and node give back the same Validator object (per direction)."""
    doc = spec.contract()
    _, _, operation = spec.operation(doc, "v2PartnerSettlementsPostRoute")
    node = operation["requestBody"]["content"]["application/json"]["schema"]
    first = schemas.compile(doc, node, direction="request")
    assert schemas.compile(doc, node, direction="request") is first
    assert schemas.compile(doc, node, direction="response") is not first


def test_problem_where_reads_like_a_path() -> None:
    """Problem.where joins names with dots and indexes with brackets; the root is `body`."""
    assert schemas.Problem(("settlementAmounts", "x", 0), "m", "type").where == (
        "settlementAmounts.x[0]"
    )
    assert schemas.Problem((), "m", "type").where == "body"


def test_problems_are_limited() -> None:
    """problems() stops at `limit`; None means all."""
    validator = schemas.compile({}, {"type": "array", "items": {"type": "string"}})
    assert len(validator.problems([1, 2, 3], limit=2)) == 2
    assert len(validator.problems([1, 2, 3], limit=None)) == 3
