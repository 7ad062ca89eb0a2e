"""Comparing two versions of one schema, in the request or the response direction.

A request schema breaks clients when it accepts less than before (narrowed); a response schema
breaks them when it may answer more than before (widened). `$ref`s are followed on both sides
before comparing; a pair of refs already on the stack is not entered again (recursive schemas).
Any shape is tolerated: a node that is not a schema is compared as an empty one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from oeskit.publish.changes import Changes, Class
from oeskit.publish.documents import deref

Direction = Literal["request", "response"]
# (keyword, is a lower bound, family used in the check id)
_BOUNDS = (
    ("minLength", True, "length"),
    ("maxLength", False, "length"),
    ("minimum", True, "range"),
    ("maximum", False, "range"),
    ("minItems", True, "items"),
    ("maxItems", False, "items"),
    ("minProperties", True, "properties"),
    ("maxProperties", False, "properties"),
)
# A widening of the value space that no client can be hurt by, per direction.
_SAFE_TYPE_CHANGE = {"request": {("integer", "number")}, "response": {("number", "integer")}}


@dataclass(slots=True)
class SchemaDiff:
    old_doc: dict[str, Any]
    new_doc: dict[str, Any]
    out: Changes

    def compare(self, old: Any, new: Any, path: str, direction: Direction) -> None:
        self._compare(old, new, path, direction, frozenset())

    def _compare(
        self, old: Any, new: Any, path: str, direction: Direction, stack: frozenset[Any]
    ) -> None:
        old, old_refs = deref(self.old_doc, old)
        new, new_refs = deref(self.new_doc, new)
        key = (old_refs, new_refs)
        if (old_refs or new_refs) and key in stack:
            return
        stack = stack | {key}
        old = old if isinstance(old, dict) else {}
        new = new if isinstance(new, dict) else {}
        self._type(old, new, path, direction)
        self._format(old, new, path, direction)
        self._nullable(old, new, path, direction)
        self._enum(old, new, path, direction)
        self._pattern(old, new, path, direction)
        for keyword, lower, family in _BOUNDS:
            self._bound(old, new, path, direction, keyword, lower, family)
        self._properties(old, new, path, direction, stack)
        for keyword in ("items", "not"):
            if keyword in old and keyword in new:
                self._compare(old[keyword], new[keyword], f"{path}/{keyword}", direction, stack)
        self._additional(old, new, path, direction, stack)
        for keyword in ("anyOf", "oneOf", "allOf"):
            self._alternatives(old, new, path, direction, keyword, stack)

    def _type(self, old: dict[str, Any], new: dict[str, Any], path: str, d: Direction) -> None:
        before, after = old.get("type"), new.get("type")
        if before == after:
            return
        where = f"{path}/type"
        if before is None:
            # Setting a type narrows a request (it accepted anything) and is a new promise
            # in a response.
            klass: Class = "breaking" if d == "request" else "non-breaking"
            self.out.add(klass, f"{d}-type-added", where, f"type set to {after}")
        elif after is None:
            klass = "non-breaking" if d == "request" else "breaking"
            self.out.add(klass, f"{d}-type-removed", where, f"type {before} removed: any value")
        elif (str(before), str(after)) in _SAFE_TYPE_CHANGE[d]:
            self.out.add("non-breaking", f"{d}-type-changed", where, f"type {before} -> {after}")
        else:
            why = f"type {before} -> {after}: values of the old type no longer fit"
            self.out.add("breaking", f"{d}-type-changed", where, why)

    def _format(self, old: dict[str, Any], new: dict[str, Any], path: str, d: Direction) -> None:
        before, after = old.get("format"), new.get("format")
        if before == after:
            return
        where = f"{path}/format"
        if d == "request":
            if after is None:
                self.out.add("non-breaking", "request-format-removed", where, f"{before} removed")
            else:
                why = f"format {before or 'none'} -> {after}: values valid before may be refused"
                self.out.add("breaking", "request-format-narrowed", where, why)
        elif before is None:
            self.out.add("non-breaking", "response-format-added", where, f"format {after} added")
        else:
            why = f"format {before} -> {after or 'none'}: clients parsing {before} may fail"
            self.out.add("breaking", "response-format-widened", where, why)

    def _nullable(self, old: dict[str, Any], new: dict[str, Any], path: str, d: Direction) -> None:
        before, after = bool(old.get("nullable")), bool(new.get("nullable"))
        if before == after:
            return
        where = f"{path}/nullable"
        if d == "request":
            if before:
                why = "null is no longer accepted"
                self.out.add("breaking", "request-became-not-nullable", where, why)
            else:
                self.out.add("non-breaking", "request-became-nullable", where, "null accepted")
        elif after:
            why = "the answer may now be null"
            self.out.add("breaking", "response-became-nullable", where, why)
        else:
            self.out.add("non-breaking", "response-became-not-nullable", where, "never null now")

    def _enum(self, old: dict[str, Any], new: dict[str, Any], path: str, d: Direction) -> None:
        before, after = old.get("enum"), new.get("enum")
        if before == after:
            return
        where = f"{path}/enum"
        old_values = list(before) if isinstance(before, list) else None
        new_values = list(after) if isinstance(after, list) else None
        if old_values is None and new_values is not None:
            klass: Class = "breaking" if d == "request" else "non-breaking"
            self.out.add(klass, f"{d}-became-enum", where, f"restricted to {new_values}")
            return
        if new_values is None:
            klass = "non-breaking" if d == "request" else "warning"
            self.out.add(klass, f"{d}-enum-removed", where, "any value of the type now")
            return
        assert old_values is not None
        removed = [v for v in old_values if v not in new_values]
        added = [v for v in new_values if v not in old_values]
        for value in removed:
            klass = "breaking" if d == "request" else "non-breaking"
            self.out.add(klass, f"{d}-enum-value-removed", where, f"value {value!r} removed")
        for value in added:
            if d == "request":
                self.out.add("non-breaking", "request-enum-value-added", where, f"{value!r} added")
            else:
                why = f"value {value!r} added: clients must handle a value they never saw"
                self.out.add("warning", "response-enum-value-added", where, why)

    def _pattern(self, old: dict[str, Any], new: dict[str, Any], path: str, d: Direction) -> None:
        before, after = old.get("pattern"), new.get("pattern")
        if before == after:
            return
        where = f"{path}/pattern"
        if d == "request":
            if before is None:
                why = f"pattern {after} added: values valid before may be refused"
                self.out.add("breaking", "request-pattern-added", where, why)
            elif after is None:
                self.out.add("non-breaking", "request-pattern-removed", where, "pattern removed")
            else:
                why = f"pattern {before} -> {after}: check that it accepts every old value"
                self.out.add("warning", "request-pattern-changed", where, why)
        elif before is None:
            self.out.add("non-breaking", "response-pattern-added", where, f"pattern {after}")
        else:
            why = f"pattern {before} -> {after or 'none'}: answers may not match the old one"
            self.out.add("warning", "response-pattern-changed", where, why)

    def _bound(
        self,
        old: dict[str, Any],
        new: dict[str, Any],
        path: str,
        d: Direction,
        keyword: str,
        lower: bool,
        family: str,
    ) -> None:
        before, after = _number(old.get(keyword)), _number(new.get(keyword))
        if before == after:
            return
        where = f"{path}/{keyword}"
        if before is None:
            assert after is not None
            # oasdiff: setting a bound on a request where there was none is a warning (old
            # clients may already stay inside it); in a response it is a new promise.
            klass: Class = "warning" if d == "request" else "non-breaking"
            self.out.add(klass, f"{d}-{family}-set", where, f"{keyword} {after} set")
            return
        narrower = after is not None and (after > before if lower else after < before)
        change = f"{keyword} {before} -> {'none' if after is None else after}"
        if d == "request" and narrower:
            why = f"{change}: values valid before are refused"
            self.out.add("breaking", f"request-{family}-narrowed", where, why)
        elif d == "response" and not narrower:
            why = f"{change}: answers may fall outside what clients expect"
            self.out.add("breaking", f"response-{family}-widened", where, why)
        else:
            self.out.add("non-breaking", f"{d}-{family}-changed", where, change)

    def _properties(
        self,
        old: dict[str, Any],
        new: dict[str, Any],
        path: str,
        d: Direction,
        stack: frozenset[Any],
    ) -> None:
        old_props = _mapping(old.get("properties"))
        new_props = _mapping(new.get("properties"))
        old_required = set(_names(old.get("required")))
        new_required = set(_names(new.get("required")))
        for name in [*old_props, *(n for n in new_props if n not in old_props)]:
            where = f"{path}/properties/{_escape(name)}"
            if name not in new_props:
                self._property_removed(name in old_required, where, d)
            elif name not in old_props:
                self._property_added(name in new_required, where, d)
            else:
                self._compare(old_props[name], new_props[name], where, d, stack)
                self._requiredness(name in old_required, name in new_required, where, d)
        # A required name with no declared property is still a requirement on the instance.
        for name in sorted((new_required - old_required) - new_props.keys()):
            where = f"{path}/required/{_escape(name)}"
            if d == "request":
                self.out.add("breaking", "request-property-became-required", where, "required")

    def _property_removed(self, was_required: bool, where: str, d: Direction) -> None:
        if d == "request":
            why = "no longer described; servers may refuse it"
            self.out.add("warning", "request-property-removed", where, why)
        elif was_required:
            why = "a required field clients may read is gone"
            self.out.add("breaking", "response-required-property-removed", where, why)
        else:
            why = "an optional field clients may read is gone"
            self.out.add("warning", "response-optional-property-removed", where, why)

    def _property_added(self, required: bool, where: str, d: Direction) -> None:
        if d == "request" and required:
            why = "a new required field: requests of existing clients lack it"
            self.out.add("breaking", "request-required-property-added", where, why)
        else:
            self.out.add("non-breaking", f"{d}-property-added", where, "new optional field")

    def _requiredness(self, before: bool, after: bool, where: str, d: Direction) -> None:
        if before == after:
            return
        if d == "request" and after:
            why = "existing clients may omit it"
            self.out.add("breaking", "request-property-became-required", where, why)
        elif d == "response" and before:
            why = "clients that rely on it being present break"
            self.out.add("breaking", "response-property-became-optional", where, why)
        else:
            state = "required" if after else "optional"
            self.out.add("non-breaking", f"{d}-property-became-{state}", where, state)

    def _additional(
        self,
        old: dict[str, Any],
        new: dict[str, Any],
        path: str,
        d: Direction,
        stack: frozenset[Any],
    ) -> None:
        before, after = old.get("additionalProperties", True), new.get("additionalProperties", True)
        where = f"{path}/additionalProperties"
        if isinstance(before, dict) and isinstance(after, dict):
            self._compare(before, after, where, d, stack)
            return
        closed_before, closed_after = before is False, after is False
        if closed_before == closed_after:
            return
        if d == "request" and closed_after:
            why = "extra properties are now refused"
            self.out.add("breaking", "request-additional-properties-closed", where, why)
        elif d == "response" and closed_before:
            why = "answers may now carry undeclared properties"
            self.out.add("warning", "response-additional-properties-opened", where, why)
        else:
            self.out.add("non-breaking", f"{d}-additional-properties-changed", where, "changed")

    def _alternatives(
        self,
        old: dict[str, Any],
        new: dict[str, Any],
        path: str,
        d: Direction,
        keyword: str,
        stack: frozenset[Any],
    ) -> None:
        before, after = old.get(keyword), new.get(keyword)
        before = before if isinstance(before, list) else []
        after = after if isinstance(after, list) else []
        for index in range(min(len(before), len(after))):
            where = f"{path}/{keyword}/{index}"
            self._compare(before[index], after[index], where, d, stack)
        where = f"{path}/{keyword}"
        # allOf narrows as it grows; anyOf/oneOf widen as they grow.
        grows_narrower = keyword == "allOf"
        if len(after) > len(before):
            narrowing = grows_narrower
            what = f"{len(after) - len(before)} subschema(s) added to {keyword}"
        elif len(after) < len(before):
            narrowing = not grows_narrower
            what = f"{len(before) - len(after)} subschema(s) removed from {keyword}"
        else:
            return
        if (d == "request") == narrowing:
            self.out.add("breaking", f"{d}-{keyword.lower()}-changed", where, what)
        else:
            self.out.add("non-breaking", f"{d}-{keyword.lower()}-changed", where, what)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def _mapping(value: Any) -> dict[str, Any]:
    return {str(k): v for k, v in value.items()} if isinstance(value, dict) else {}


def _names(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")
