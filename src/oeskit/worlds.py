"""The world format: read a world file and check it against the `World` schema of sandbox.yaml
and the references between its entities. No database, no HTTP: the store loads what this returns.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Hashable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import yaml

_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_PROBLEMS = 10


class WorldError(ValueError):
    """A world that breaks the format; the message names each bad field by its path."""


def load_world_file(path: str | Path) -> dict[str, Any]:
    """Read a world from a YAML or JSON file (by suffix) and return it validated."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text, object_pairs_hook=_mapping_without_duplicates)
        else:
            data = yaml.load(text, Loader=_world_loader())  # noqa: S506 - a SafeLoader subclass
    except (ValueError, yaml.YAMLError) as exc:
        raise WorldError(f"{path.name}: not valid {path.suffix.lstrip('.') or 'YAML'}: {exc}") from exc
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
    if not problems:
        assert isinstance(data, dict)  # the schema says `type: object`
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
    spec_path = Path(__file__).parent / "http" / "sandbox.yaml"
    spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    schemas = spec["components"]["schemas"]
    world: dict[str, Any] = _to_json_schema(schemas["World"], schemas, ("World",))
    return world


@functools.cache
def _world_validator() -> jsonschema.Draft4Validator:
    # Draft 4, like connexion: OpenAPI 3.0's boolean `exclusiveMinimum` is Draft 4's.
    return jsonschema.Draft4Validator(_world_schema())


_LITERAL_KEYWORDS = frozenset({"default", "enum", "example", "examples", "required"})


def _to_json_schema(node: Any, schemas: Mapping[str, Any], seen: tuple[str, ...]) -> Any:
    """Inline local `$ref`s and turn OpenAPI's `nullable` into JSON Schema's null type."""
    if isinstance(node, list):
        return [_to_json_schema(item, schemas, seen) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = str(node["$ref"]).removeprefix("#/components/schemas/")
        if name not in schemas or name in seen:
            raise ValueError(f"sandbox.yaml: unsupported $ref {node['$ref']!r} under {seen}")
        return _to_json_schema(schemas[name], schemas, (*seen, name))
    out = {
        key: value if key in _LITERAL_KEYWORDS else _to_json_schema(value, schemas, seen)
        for key, value in node.items()
        if key != "nullable"
    }
    if node.get("nullable") is True:
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


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
            kinds = [e for errors in branches.values() for e in errors
                     if e.validator == "enum" and len(e.path) == 1]
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


# ---- references, unique ids, timestamps ------------------------------------------------------


def _check_references(world: dict[str, Any]) -> list[str]:
    """Everything the schema cannot say: each reference resolves, ids are unique."""
    problems: list[str] = []

    def unique(pairs: Iterable[tuple[str, Hashable]]) -> None:
        first: dict[Hashable, str] = {}
        for where, value in pairs:
            if value in first:
                problems.append(f"{where}: duplicate {value!r} (also at {first[value]})")
            else:
                first[value] = where

    def refers(where: str, value: object, known: Mapping[Any, Any], kind: str) -> bool:
        if value in known:
            return True
        problems.append(f"{where}: unknown {kind} {value!r}")
        return False

    def of_partner(where: str, currency: str, partner: Mapping[str, Any]) -> None:
        offered = {c["bitgoCurrency"] for c in partner["currencies"]}
        if currency not in offered:
            problems.append(f"{where}: {currency!r} is not a currency of partner {partner['id']} "
                            f"(it has {', '.join(sorted(offered))})")

    def in_currencies(where: str, keys: Iterable[str], partner: Mapping[str, Any]) -> None:
        for key in keys:
            of_partner(f"{where}.{key}", key, partner)

    enterprises = {e["id"]: e for e in world["enterprises"]}
    users = {u["id"]: u for u in world["users"]}
    partners = {p["id"]: p for p in world["partners"]}
    clients = {c["id"]: c for c in world["clients"]}
    connections = {c["id"]: c for c in world["connections"]}
    settlements = {s["id"]: s for s in world["settlements"]}

    for kind in ("enterprises", "users", "partners", "clients", "connections", "settlements",
                 "disputes"):
        unique((f"{kind}[{i}].id", item["id"]) for i, item in enumerate(world[kind]))
    unique((f"tokens[{i}].token", t["token"]) for i, t in enumerate(world["tokens"]))
    # One partner per enterprise (domain.md A14): the path's enterpriseId names the partner.
    unique((f"partners[{i}].enterpriseId", p["enterpriseId"]) for i, p in enumerate(world["partners"]))
    unique([(f"partners[{i}].tradingAccountId", p["tradingAccountId"])
            for i, p in enumerate(world["partners"])]
           + [(f"clients[{i}].tradingAccountId", c["tradingAccountId"])
              for i, c in enumerate(world["clients"])])
    unique((f"connections[{i}].networkAccountId", c["networkAccountId"])
           for i, c in enumerate(world["connections"]))
    unique((f"connections[{i}].partnersConnectionId", (c["partnerId"], c["partnersConnectionId"]))
           for i, c in enumerate(world["connections"]) if c.get("partnersConnectionId") is not None)
    unique((f"settlements[{i}].externalId", (s["partnerId"], s["externalId"]))
           for i, s in enumerate(world["settlements"]))
    unique((f"settlements[{i}].transfers[{j}].id", t["id"])
           for i, s in enumerate(world["settlements"])
           for j, t in enumerate(s["transfers"]) if "id" in t)
    unique((f"disputes[{i}].closure.id", d["closure"]["id"])
           for i, d in enumerate(world["disputes"]) if "closure" in d)

    for i, user in enumerate(world["users"]):
        for j, enterprise_id in enumerate(user["enterprises"]):
            refers(f"users[{i}].enterprises[{j}]", enterprise_id, enterprises, "enterprise")
    for i, token in enumerate(world["tokens"]):
        refers(f"tokens[{i}].user", token["user"], users, "user")
    for i, partner in enumerate(world["partners"]):
        where = f"partners[{i}]"
        refers(f"{where}.enterpriseId", partner["enterpriseId"], enterprises, "enterprise")
        if "clientId" in partner:
            refers(f"{where}.clientId", partner["clientId"], clients, "client")
        unique((f"{where}.currencies[{j}].code", c["code"]) for j, c in enumerate(partner["currencies"]))
        unique((f"{where}.currencies[{j}].bitgoCurrency", c["bitgoCurrency"])
               for j, c in enumerate(partner["currencies"]))
        unique((f"{where}.signingKeys[{j}].publicKey", k["publicKey"])
               for j, k in enumerate(partner["signingKeys"]))
        in_currencies(f"{where}.balances", partner.get("balances", {}), partner)
    for i, client in enumerate(world["clients"]):
        refers(f"clients[{i}].enterpriseId", client["enterpriseId"], enterprises, "enterprise")
    for i, connection in enumerate(world["connections"]):
        where = f"connections[{i}]"
        refers(f"{where}.clientId", connection["clientId"], clients, "client")
        if refers(f"{where}.partnerId", connection["partnerId"], partners, "partner"):
            in_currencies(f"{where}.balances", connection.get("balances", {}),
                          partners[connection["partnerId"]])

    for i, settlement in enumerate(world["settlements"]):
        where = f"settlements[{i}]"
        if settlement["status"] == "failed" and not settlement.get("reason"):
            problems.append(f"{where}.reason: required when status is 'failed'")
        if not refers(f"{where}.partnerId", settlement["partnerId"], partners, "partner"):
            continue
        partner = partners[settlement["partnerId"]]
        for j, transfer in enumerate(settlement["transfers"]):
            at = f"{where}.transfers[{j}]"
            for end in ("sourceConnectionId", "destinationConnectionId"):
                if end in transfer:
                    _belongs(problems, f"{at}.{end}", transfer[end], connections, partner)
            if transfer.get("sourceConnectionId") == transfer["destinationConnectionId"]:
                problems.append(f"{at}.sourceConnectionId: same as destinationConnectionId")
            of_partner(f"{at}.currency", transfer["currency"], partner)

    open_disputes: dict[tuple[str, str], str] = {}
    for i, dispute in enumerate(world["disputes"]):
        where = f"disputes[{i}]"
        refers(f"{where}.userId", dispute["userId"], users, "user")
        closure = dispute.get("closure")
        if closure is not None:
            refers(f"{where}.closure.userId", closure["userId"], users, "user")
        if "settledInSettlementId" in dispute:
            refers(f"{where}.settledInSettlementId", dispute["settledInSettlementId"],
                   settlements, "settlement")
            if closure is None or closure["status"] != "approved":
                problems.append(f"{where}.settledInSettlementId: only an approved closure is settled")
        if not refers(f"{where}.settlementId", dispute["settlementId"], settlements, "settlement"):
            continue
        partner = partners.get(settlements[dispute["settlementId"]]["partnerId"])
        if partner is None:
            continue
        _belongs(problems, f"{where}.connectionId", dispute["connectionId"], connections, partner)
        in_currencies(f"{where}.expectedTransfers", dispute.get("expectedTransfers", {}), partner)
        if closure is not None:
            in_currencies(f"{where}.closure.adjustedTransfers", closure["adjustedTransfers"], partner)
        if not dispute["retracted"]:
            # domain.md 8.7: one non-retracted dispute per (settlement, connection)
            key = (dispute["settlementId"], dispute["connectionId"])
            if key in open_disputes:
                problems.append(f"{where}: a second non-retracted dispute on the same settlement "
                                f"and connection (also {open_disputes[key]})")
            open_disputes.setdefault(key, where)

    problems.extend(_check_timestamps(world))
    return problems


def _belongs(problems: list[str], where: str, connection_id: str,
             connections: Mapping[str, Any], partner: Mapping[str, Any]) -> None:
    if connection_id not in connections:
        problems.append(f"{where}: unknown connection {connection_id!r}")
    elif connections[connection_id]["partnerId"] != partner["id"]:
        problems.append(f"{where}: connection {connection_id} is not a connection of partner "
                        f"{partner['id']}")


def _check_timestamps(world: dict[str, Any]) -> list[str]:
    """The schema's pattern fixes the shape; this catches impossible dates (month 13...)."""
    stamps: list[tuple[str, object]] = [("clock", world.get("clock"))]
    for i, s in enumerate(world["settlements"]):
        stamps += [(f"settlements[{i}].{k}", s.get(k)) for k in ("createdAt", "cutoffAt", "finalizedAt")]
    for i, d in enumerate(world["disputes"]):
        stamps.append((f"disputes[{i}].createdAt", d.get("createdAt")))
        stamps.append((f"disputes[{i}].closure.createdAt", (d.get("closure") or {}).get("createdAt")))
    problems = []
    for where, value in stamps:
        if isinstance(value, str):
            try:
                datetime.strptime(value[:19], "%Y-%m-%dT%H:%M:%S")
            except ValueError:
                problems.append(f"{where}: {value!r} is not a valid date-time")
    return problems


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
                    "while constructing a mapping", node.start_mark,
                    f"found duplicate key {key!r}", key_node.start_mark,
                )
            out[key] = loader.construct_object(value_node, deep=True)
        return out

    loader: type[yaml.SafeLoader] = type(
        "_WorldLoader", (yaml.SafeLoader,), {"yaml_implicit_resolvers": resolvers}
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
