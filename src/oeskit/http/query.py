"""Array query parameters of the contract: a literal comma separates values, an encoded one
(`%2C`) is data. Only the raw query string can tell them apart, so the split happens here,
before connexion decodes it: `?ids=a,b` becomes `?ids=a&ids=b`, and connexion's parser is told
not to split on commas again. In filters of UUIDs, which cannot hold a comma, an encoded comma
separates too (clients such as httpx and URLSearchParams encode every comma they are given)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from connexion.uri_parsing import OpenAPIURIParser
from starlette.types import Scope

from oeskit.http.errors import is_sandbox

_ENCODED_COMMA = re.compile(rb"%2[cC]")


@dataclass(frozen=True, slots=True)
class ArrayQuery:
    """The names of the contract's array query parameters (`explode: true`, `style: form`),
    and those among them whose items are UUIDs."""

    names: frozenset[str]
    uuids: frozenset[str] = frozenset()

    @classmethod
    def from_contract(cls, document: dict[str, Any]) -> ArrayQuery:
        arrays: set[str] = set()
        uuids: set[str] = set()
        scalars: set[str] = set()
        for item in document.get("paths", {}).values():
            for operation in item.values():
                if not isinstance(operation, dict):
                    continue
                for parameter in operation.get("parameters", []):
                    parameter = _local(document, parameter)
                    if parameter.get("in") != "query":
                        continue
                    schema = parameter.get("schema", {})
                    (arrays if schema.get("type") == "array" else scalars).add(parameter["name"])
                    if schema.get("items", {}).get("format") == "uuid":
                        uuids.add(parameter["name"])
        # One name, one meaning: a scalar of the same name would be split by mistake.
        assert not arrays & scalars, arrays & scalars
        return cls(frozenset(arrays), frozenset(uuids))

    def normalize(self, scope: Scope) -> bytes:
        """The query string with each array value's literal commas turned into repetitions."""
        raw: bytes = scope.get("query_string", b"")
        if (b"," not in raw and b"%2" not in raw) or is_sandbox(str(scope.get("path", ""))):
            return raw
        pairs: list[bytes] = []
        for pair in raw.split(b"&"):
            name, sep, value = pair.partition(b"=")
            key = unquote_plus(name.decode("latin-1"))
            if sep and key in self.uuids:
                value = _ENCODED_COMMA.sub(b",", value)
            if sep and b"," in value and key in self.names:
                pairs.extend(name + b"=" + part for part in value.split(b","))
            else:
                pairs.append(pair)
        return b"&".join(pairs)


def _local(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """A parameter object, following its local `$ref` (`#/components/parameters/...`)."""
    ref = node.get("$ref")
    if not isinstance(ref, str):
        return node
    target: Any = document
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return _local(document, target)


class ExplodedArrayParser(OpenAPIURIParser):  # type: ignore[misc]  # connexion is untyped
    """connexion's parser joins a repeated (`explode: true`) parameter with commas and splits
    it again, which would split an encoded comma too; this one keeps the repetitions as they
    are (`ArrayQuery` has already turned literal commas into repetitions)."""

    @staticmethod
    def _resolve_param_duplicates(values: Any, param_defn: dict[str, Any], _in: str) -> Any:
        if _in == "query" and param_defn.get("explode", param_defn.get("style", "form") == "form"):
            return list(values)
        return OpenAPIURIParser._resolve_param_duplicates(values, param_defn, _in)

    @staticmethod
    def _split(value: Any, param_defn: dict[str, Any], _in: str) -> Any:
        if isinstance(value, list):
            return value
        return OpenAPIURIParser._split(value, param_defn, _in)
