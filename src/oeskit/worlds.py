"""The world format: read a world file and check it against the `World` schema of sandbox.yaml
and the references between its entities. No database, no HTTP: the store loads what this returns.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Hashable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from oeskit import schemas, spec

_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_PROBLEMS = 10


class WorldError(ValueError):
    """A world that breaks the format; the message names each bad field by its path."""


def load_world_file(path: str | Path) -> dict[str, Any]:
    """Read a world from a YAML or JSON file (by suffix) and return it validated."""
    path = Path(path)
    return copy.deepcopy(_load_world_text(path.name, path.read_text(encoding="utf-8")))


@functools.lru_cache(maxsize=16)
def _load_world_text(name: str, text: str) -> dict[str, Any]:
    """The validated world of a file's text, kept by name and content: a server opening
    namespaces (each loads `--world`), and a test suite starting sandboxes, read the same file
    again and again, and parsing plus validating it costs ~25 ms; a copy is ~1 ms."""
    path = Path(name)
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text, object_pairs_hook=_mapping_without_duplicates)
        else:
            data = yaml.load(text, Loader=_world_loader())  # noqa: S506 - a SafeLoader subclass
    except (ValueError, yaml.YAMLError) as exc:
        kind = "JSON" if path.suffix.lower() == ".json" else "YAML"
        raise WorldError(f"{path.name}: not valid {kind}: {exc}") from exc
    try:
        return validate_world(data)
    except WorldError as exc:
        raise WorldError(f"{path.name}: {exc}") from exc


def validate_world(data: object) -> dict[str, Any]:
    """Check `data` against the World schema, then its references and unique ids.

    Returns a copy with the schema's defaults filled in (absent lists become `[]`,
    `oesLicense` false, `amountFormat` baseUnits...). Raises WorldError naming every problem
    (up to ten), each as `path.to.field: what is wrong`.
    """
    schema = _world_schema()
    problems = [_describe(error) for error in _world_validator().iter_errors(data)]
    if not problems and isinstance(data, dict):  # the schema already demands an object
        world = copy.deepcopy(data)
        _fill_defaults(schema, world)
        problems = _check_references(world)
        if not problems:
            return world
    problems = list(dict.fromkeys(problems))  # one missing key can be reported by several branches
    shown = problems[:_MAX_PROBLEMS]
    if len(problems) > _MAX_PROBLEMS:
        shown.append(f"... and {len(problems) - _MAX_PROBLEMS} more")
    raise WorldError("; ".join(shown))


# ---- the schema, taken from sandbox.yaml ----------------------------------------------------


@functools.cache
def _world_schema() -> dict[str, Any]:
    document = spec.load(spec.sandbox_path())
    world = document["components"]["schemas"]["World"]
    return schemas.to_json_schema(document, world, direction="request")


@functools.cache
def _world_validator() -> jsonschema.Draft4Validator:
    # Python's jsonschema, not the compiled Validator: its error tree (a oneOf's branches) is
    # what names the bad field of a world well. Draft 4, like the server: OpenAPI 3.0's boolean
    # `exclusiveMinimum` is Draft 4's. Formats are the adapter's own checks.
    return jsonschema.Draft4Validator(_world_schema(), format_checker=schemas.format_checker())


def _fill_defaults(schema: Mapping[str, Any], instance: Any) -> None:
    """Add the schema's `default`s for absent properties (branches of oneOf are left alone)."""
    if isinstance(instance, dict):
        properties: Mapping[str, Any] = schema.get("properties", {})
        for key, sub in properties.items():
            if key not in instance and "default" in sub:
                instance[key] = copy.deepcopy(sub["default"])
            if key in instance:
                _fill_defaults(sub, instance[key])
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key, value in instance.items():
                if key not in properties:
                    _fill_defaults(extra, value)
    elif isinstance(instance, list) and isinstance(schema.get("items"), dict):
        for item in instance:
            _fill_defaults(schema["items"], item)
    for sub in schema.get("allOf", []):
        _fill_defaults(sub, instance)


# ---- schema errors as `path: message` -------------------------------------------------------


def _describe(error: jsonschema.ValidationError) -> str:
    error = _innermost(error)
    where = _path(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = error.schema.get("properties", {})
        extras = [key for key in error.instance if key not in known]
        return "; ".join(f"{_path([*error.absolute_path, key])}: unknown field" for key in extras)
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [key for key in error.validator_value if key not in error.instance]
        return "; ".join(f"{_path([*error.absolute_path, key])}: required" for key in missing)
    return f"{where}: {error.message}"


def _innermost(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """For a failed oneOf, pick the error of the branch the instance was meant for.

    The meant branch is the one whose errors do not include a wrong discriminator (an `enum`
    on `scheme` or `kind`); failing that, the branch with the fewest errors.
    """
    while error.context:
        branches: dict[Any, list[jsonschema.ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(sub.schema_path[0], []).append(sub)

        def mismatch(errors: list[jsonschema.ValidationError]) -> tuple[bool, int]:
            wrong_kind = any(e.validator == "enum" and len(e.path) == 1 for e in errors)
            return (wrong_kind, len(errors))

        if all(mismatch(errors)[0] for errors in branches.values()):
            # No branch is meant (e.g. an unknown `scheme`): list every allowed value.
            kinds = [
                e
                for errors in branches.values()
                for e in errors
                if e.validator == "enum" and len(e.path) == 1
            ]
            allowed = [value for e in kinds for value in e.validator_value]
            error = copy.copy(kinds[0])
            error.message = f"{error.instance!r} is not one of {allowed!r}"
            return error
        chosen = min(branches.values(), key=mismatch)
        error = min(chosen, key=lambda e: len(e.path))
    return error


def _path(parts: Iterable[str | int]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENTIFIER.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out or "world"


# ---- references and unique ids ----------------------------------------------------------------


def _check_references(world: dict[str, Any]) -> list[str]:
    """Everything the schema cannot say: each reference resolves, ids are unique."""
    check = _References(world)
    check.unique_ids()
    check.people_and_partners()
    check.history()
    return check.problems


class _References:
    """Collects `path: problem` lines about one schema-valid world."""

    def __init__(self, world: dict[str, Any]) -> None:
        self.world = world
        self.problems: list[str] = []
        # The lists whose items have an `id` (all but tokens), as the schema says.
        self.kinds = [
            kind
            for kind, sub in _world_schema()["properties"].items()
            if "id" in sub.get("items", {}).get("properties", {})
        ]
        self.known = {kind: {item["id"]: item for item in world[kind]} for kind in self.kinds}

    def field(self, key: str, *kinds: str, scope: str = "") -> Iterator[tuple[str, Any]]:
        """(`kind[i].key`, value) for each item of `kinds` that has `key`.

        With `scope`, the value is paired with the item's `scope` field, so that `unique`
        compares values within one scope (e.g. an externalId per partner).
        """
        for kind in kinds:
            for i, item in enumerate(self.world[kind]):
                if item.get(key) is not None:
                    value = (item[scope], item[key]) if scope else item[key]
                    yield f"{kind}[{i}].{key}", value

    def unique(self, pairs: Iterable[tuple[str, Hashable]]) -> None:
        first: dict[Hashable, str] = {}
        for where, value in pairs:
            if value in first:
                shown = value[1] if isinstance(value, tuple) else value
                self.problems.append(f"{where}: duplicate {shown!r} (also at {first[value]})")
            else:
                first[value] = where

    def refers(self, where: str, value: Any, kind: str) -> bool:
        if value in self.known[kind]:
            return True
        self.problems.append(f"{where}: unknown {kind.removesuffix('s')} {value!r}")
        return False

    def currency(self, where: str, code: str, partner: Mapping[str, Any]) -> None:
        offered = sorted(c["bitgoCurrency"] for c in partner["currencies"])
        if code not in offered:
            self.problems.append(
                f"{where}: {code!r} is not a currency of partner {partner['id']} "
                f"(it has {', '.join(offered)})"
            )

    def amounts(self, where: str, amounts: Mapping[str, Any], partner: Mapping[str, Any]) -> None:
        for code in amounts:
            self.currency(f"{where}.{code}", code, partner)

    def connection_of(self, where: str, connection_id: str, partner: Mapping[str, Any]) -> None:
        connection = self.known["connections"].get(connection_id)
        if connection is None:
            self.problems.append(f"{where}: unknown connection {connection_id!r}")
        elif connection["partnerId"] != partner["id"]:
            self.problems.append(
                f"{where}: connection {connection_id} is not a connection of partner "
                f"{partner['id']}"
            )

    def unique_ids(self) -> None:
        for kind in self.kinds:
            self.unique(self.field("id", kind))
        self.unique(self.field("token", "tokens"))
        # One partner per enterprise (domain.md A14): the path's enterpriseId names the partner.
        self.unique(self.field("enterpriseId", "partners"))
        self.unique(self.field("tradingAccountId", "partners", "clients"))
        self.unique(self.field("networkAccountId", "connections"))
        self.unique(self.field("partnersConnectionId", "connections", scope="partnerId"))
        self.unique(self.field("externalId", "settlements", scope="partnerId"))
        self.unique(
            (f"settlements[{i}].transfers[{j}].id", transfer["id"])
            for i, settlement in enumerate(self.world["settlements"])
            for j, transfer in enumerate(settlement["transfers"])
            if "id" in transfer
        )
        self.unique(
            (f"{where}.id", closure["id"]) for where, closure in self.field("closure", "disputes")
        )
        for i, partner in enumerate(self.world["partners"]):
            for items, key in (
                ("currencies", "code"),
                ("currencies", "bitgoCurrency"),
                ("signingKeys", "publicKey"),
            ):
                self.unique(
                    (f"partners[{i}].{items}[{j}].{key}", item[key])
                    for j, item in enumerate(partner[items])
                )

    def people_and_partners(self) -> None:
        for i, user in enumerate(self.world["users"]):
            for j, enterprise_id in enumerate(user["enterprises"]):
                self.refers(f"users[{i}].enterprises[{j}]", enterprise_id, "enterprises")
        for where, user_id in self.field("user", "tokens"):
            self.refers(where, user_id, "users")
        for where, enterprise_id in self.field("enterpriseId", "partners", "clients"):
            self.refers(where, enterprise_id, "enterprises")
        for where, client_id in self.field("clientId", "partners", "connections"):
            self.refers(where, client_id, "clients")
        for i, partner in enumerate(self.world["partners"]):
            self.amounts(f"partners[{i}].balances", partner.get("balances", {}), partner)
        for i, connection in enumerate(self.world["connections"]):
            where = f"connections[{i}]"
            if self.refers(f"{where}.partnerId", connection["partnerId"], "partners"):
                partner = self.known["partners"][connection["partnerId"]]
                self.amounts(f"{where}.balances", connection.get("balances", {}), partner)

    def history(self) -> None:
        for i, settlement in enumerate(self.world["settlements"]):
            where = f"settlements[{i}]"
            if settlement["status"] == "failed" and not settlement.get("reason"):
                self.problems.append(f"{where}.reason: required when status is 'failed'")
            if not self.refers(f"{where}.partnerId", settlement["partnerId"], "partners"):
                continue
            partner = self.known["partners"][settlement["partnerId"]]
            for j, transfer in enumerate(settlement["transfers"]):
                at = f"{where}.transfers[{j}]"
                for end in ("sourceConnectionId", "destinationConnectionId"):
                    if end in transfer:
                        self.connection_of(f"{at}.{end}", transfer[end], partner)
                if transfer.get("sourceConnectionId") == transfer["destinationConnectionId"]:
                    self.problems.append(f"{at}.sourceConnectionId: same as the destination")
                self.currency(f"{at}.currency", transfer["currency"], partner)
        for i, record in enumerate(self.world["allocations"]):
            connection = self.known["connections"].get(record["connectionId"])
            if connection is None:
                self.problems.append(f"allocations[{i}].connectionId: unknown connection")
            elif connection["partnerId"] in self.known["partners"]:
                partner = self.known["partners"][connection["partnerId"]]
                self.currency(f"allocations[{i}].currency", record["currency"], partner)
        open_disputes: dict[tuple[str, str], str] = {}
        for i, dispute in enumerate(self.world["disputes"]):
            where = f"disputes[{i}]"
            closure = dispute.get("closure")
            self.refers(f"{where}.userId", dispute["userId"], "users")
            if closure is not None:
                self.refers(f"{where}.closure.userId", closure["userId"], "users")
            if "settledInSettlementId" in dispute:
                self.refers(
                    f"{where}.settledInSettlementId",
                    dispute["settledInSettlementId"],
                    "settlements",
                )
                if closure is None or closure["status"] != "approved":
                    self.problems.append(
                        f"{where}.settledInSettlementId: only an approved closure is settled"
                    )
            if not dispute["retracted"]:
                # domain.md 8.7: one non-retracted dispute per (settlement, connection)
                key = (dispute["settlementId"], dispute["connectionId"])
                if key in open_disputes:
                    self.problems.append(
                        f"{where}: a second non-retracted dispute on the same settlement "
                        f"and connection (also {open_disputes[key]})"
                    )
                open_disputes.setdefault(key, where)
            if not self.refers(f"{where}.settlementId", dispute["settlementId"], "settlements"):
                continue
            partner = self.known["partners"].get(
                self.known["settlements"][dispute["settlementId"]]["partnerId"]
            )
            if partner is not None:
                self.connection_of(f"{where}.connectionId", dispute["connectionId"], partner)
                self.amounts(
                    f"{where}.expectedTransfers", dispute.get("expectedTransfers", {}), partner
                )
                if closure is not None:
                    self.amounts(
                        f"{where}.closure.adjustedTransfers", closure["adjustedTransfers"], partner
                    )


# ---- parsing ---------------------------------------------------------------------------------


@functools.cache
def _world_loader() -> type[yaml.SafeLoader]:
    """A SafeLoader that keeps timestamps as strings and refuses duplicate keys.

    The World schema wants date-times as strings; PyYAML would turn an unquoted one into a
    datetime, and silently keep the last of two equal keys (a typo that hides data).
    """
    resolvers = {
        first: [(tag, regexp) for tag, regexp in entries if tag != _TIMESTAMP_TAG]
        for first, entries in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
        loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if key in out:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r}",
                    key_node.start_mark,
                )
            out[key] = loader.construct_object(value_node, deep=True)
        return out

    # libyaml's parser when present (about 5x faster on a big world); same resolvers either way.
    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader: type[yaml.SafeLoader] = type(
        "_WorldLoader", (base,), {"yaml_implicit_resolvers": resolvers}
    )
    loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return loader


def _mapping_without_duplicates(pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out
