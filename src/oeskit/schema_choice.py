"""Which branch of a failed `oneOf` an instance meant, and what is wrong with it there.

A `oneOf` whose branches each require one property with a single allowed value (the control
plane's fault requests: `kind`) is a tagged union. When an instance matches no branch, the
validator can only say "not valid under any of the schemas listed in the 'oneOf' keyword";
this module picks the branch the tag names and reports that branch's first problem, naming the
tag's value, the property at fault and, for an unknown property, the properties the branch
takes. Works on the adapted schemas of `oeskit.schemas`; restates no schema.
"""

from __future__ import annotations

from typing import Any

from oeskit import schemas

_BRANCHES: dict[int, tuple[object, dict[str, schemas.Validator]]] = {}


def tag_of(branches: list[Any]) -> str | None:
    """The property every branch requires with exactly one allowed value, if there is one."""
    if not branches or not all(isinstance(b, dict) for b in branches):
        return None
    required: set[str] = set.intersection(*(set(b.get("required", ())) for b in branches))
    for name in sorted(required):
        enums = [b.get("properties", {}).get(name, {}).get("enum") for b in branches]
        if all(isinstance(e, list) and len(e) == 1 for e in enums):
            return name
    return None


def explain(schema: dict[str, Any], instance: Any) -> str | None:
    """Why `instance` fails the tagged `oneOf` at the root of `schema`, in words naming the tag's
    value and the property at fault; None when the schema is no tagged union."""
    branches = schema.get("oneOf")
    if not isinstance(branches, list) or not isinstance(instance, dict):
        return None
    tag = tag_of(branches)
    if tag is None:
        return None
    by_value = _validators(schema, branches, tag)
    value = instance.get(tag)
    if not isinstance(value, str) or value not in by_value:
        shown = "missing" if value is None else repr(value)[:60]
        return f"{tag} is {shown}; it must be one of {', '.join(by_value)}"
    branch = by_value[value]
    problems = branch.problems(instance, limit=1)
    if not problems:
        return None
    problem = problems[0]
    what = f"{tag} {value!r}"
    if problem.keyword == "additionalProperties":
        takes = ", ".join(branch.schema.get("properties", {}))
        unknown = sorted(set(instance) - set(branch.schema.get("properties", {})))
        return f"{what} takes no {', '.join(unknown)} (it takes {takes})"
    where = f"{problem.where}: " if problem.path else ""
    return f"{what}: {where}{problem.message}"


def _validators(
    schema: dict[str, Any], branches: list[Any], tag: str
) -> dict[str, schemas.Validator]:
    """One compiled validator per tag value, built once per schema object."""
    cached = _BRANCHES.get(id(schema))
    if cached is None or cached[0] is not schema:
        built = {
            str(b["properties"][tag]["enum"][0]): schemas.Validator(
                {**b, "definitions": schema.get("definitions", {})}
                if "definitions" in schema
                else b
            )
            for b in branches
        }
        cached = _BRANCHES[id(schema)] = (schema, built)
    return cached[1]
