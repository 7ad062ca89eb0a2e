"""The contract `openapi.yaml`: a valid OpenAPI 3.0.3 document whose examples validate and whose
rules catalogue matches `oeskit.domain.rules`. Reads the file only; starts no server."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_spec_validator import validate

from oeskit import schemas
from oeskit.domain import rules

SPEC_PATH = Path(__file__).resolve().parents[2] / "openapi.yaml"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
RULE_ID = re.compile(r"^OES-[A-Z]+-\d{3}$")


@cache
def load_spec() -> dict[str, Any]:
    with SPEC_PATH.open(encoding="utf-8") as handle:
        spec: dict[str, Any] = yaml.safe_load(handle)
    return spec


def resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local `$ref` (one hop at a time) to the object it names."""
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def validator_for(spec: dict[str, Any], schema: dict[str, Any]) -> schemas.Validator:
    """The server's own validator for a schema of the contract (oeskit.schemas)."""
    return schemas.compile(spec, schema)


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield method, path, item[method]


def label(method: str, path: str) -> str:
    """A readable test id: `POST /api/network/v2/.../settlements` -> `POST v2 settlements`."""
    version = path.split("/")[3]
    tail = path.split("/partners/", 1)[1]
    return f"{method.upper()} {version} {tail}"


def media_examples() -> Iterator[tuple[str, dict[str, Any], Any]]:
    """Every (readable id, schema, example) pair of request bodies and responses."""
    spec = load_spec()
    for method, path, operation in operations(spec):
        name = label(method, path)
        if "requestBody" in operation:
            body = resolve(spec, operation["requestBody"])
            for media in body["content"].values():
                yield f"{name} request", media["schema"], media.get("example")
        for status, response in operation["responses"].items():
            for media in resolve(spec, response).get("content", {}).values():
                yield f"{name} {status}", media["schema"], media.get("example")
    for response_name, response in spec["components"]["responses"].items():
        for media in response.get("content", {}).values():
            yield (
                f"components.responses.{response_name}",
                media["schema"],
                media.get("example"),
            )


def parameter_examples() -> Iterator[tuple[str, dict[str, Any], Any]]:
    """Every (readable id, schema, example) of a parameter that has an example."""
    spec = load_spec()
    for method, path, operation in operations(spec):
        for parameter in operation.get("parameters", []):
            parameter = resolve(spec, parameter)
            if "example" in parameter:
                yield (
                    f"{label(method, path)} param {parameter['name']}",
                    parameter["schema"],
                    parameter["example"],
                )


def catalogue() -> list[dict[str, Any]]:
    catalogue_rules: list[dict[str, Any]] = load_spec()["x-oeskit-rules"]
    return catalogue_rules


def declared_rule_ids() -> set[str]:
    return {
        value
        for value in vars(rules).values()
        if isinstance(value, str) and value.startswith("OES-")
    }


MEDIA_EXAMPLES = [pytest.param(s, e, id=i) for i, s, e in media_examples()]
PARAMETER_EXAMPLES = [pytest.param(s, e, id=i) for i, s, e in parameter_examples()]


def test_spec_is_valid_openapi_3_0_3() -> None:
    """The contract is a valid OpenAPI 3.0.3 document."""
    spec = load_spec()
    assert spec["openapi"] == "3.0.3"
    validate(spec)


def test_spec_has_no_jinja_markers() -> None:
    """The file has no `{{`, `{%` or `{#`, which connexion's Jinja2 pass would interpret."""
    text = SPEC_PATH.read_text(encoding="utf-8")
    for marker in ("{{", "{%", "{#"):
        assert marker not in text, f"{marker!r} found in openapi.yaml"


def test_every_operation_is_secured_by_bearer_auth() -> None:
    """bearerAuth is the top-level requirement and no operation overrides it."""
    spec = load_spec()
    assert spec["security"] == [{"bearerAuth": []}]
    scheme = spec["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert "x-bearerInfoFunc" not in scheme  # the server wires security in code
    overriding = [label(m, p) for m, p, op in operations(spec) if "security" in op]
    assert overriding == []


def test_every_request_body_and_response_has_an_example() -> None:
    """Each request body and each response of each operation carries a media-type example."""
    spec = load_spec()
    missing = []
    for method, path, operation in operations(spec):
        name = label(method, path)
        if "requestBody" in operation:
            body = resolve(spec, operation["requestBody"])
            if body.get("required") is not True:
                missing.append(f"{name} request body is not required")
            for media_type, media in body["content"].items():
                if "example" not in media:
                    missing.append(f"{name} request {media_type}")
        for status, response in operation["responses"].items():
            content = resolve(spec, response).get("content")
            if not content:
                missing.append(f"{name} {status} has no content")
                continue
            missing.extend(
                f"{name} {status}" for media in content.values() if "example" not in media
            )
    assert missing == []


@pytest.mark.parametrize(("schema", "example"), MEDIA_EXAMPLES)
def test_example_validates_against_its_schema(schema: dict[str, Any], example: Any) -> None:
    """The example of a request body or response validates against its schema."""
    assert example is not None, "no example"
    errors = [
        f"{p.where}: {p.message}"
        for p in validator_for(load_spec(), schema).problems(example, limit=None)
    ]
    assert errors == []


@pytest.mark.parametrize(("schema", "example"), PARAMETER_EXAMPLES)
def test_parameter_example_validates_against_its_schema(
    schema: dict[str, Any], example: Any
) -> None:
    """A parameter's example validates against the parameter's schema."""
    errors = [
        f"{p.where}: {p.message}"
        for p in validator_for(load_spec(), schema).problems(example, limit=None)
    ]
    assert errors == []


def test_error_examples_name_a_catalogued_rule_with_their_status() -> None:
    """Every error example's `rule` is catalogued with the status the example is filed under."""
    spec = load_spec()
    status_of = {rule["id"]: rule["status"] for rule in catalogue()}
    wrong = []
    for method, path, operation in operations(spec):
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            for media in resolve(spec, response)["content"].values():
                rule_id = media["example"]["rule"]
                if status_of.get(rule_id) != int(status):
                    wrong.append(f"{label(method, path)} {status}: {rule_id}")
    assert wrong == []


def test_rule_ids_are_unique_and_well_formed() -> None:
    """Catalogue ids are unique and look like `OES-AREA-123`."""
    ids = [rule["id"] for rule in catalogue()]
    assert len(ids) == len(set(ids))
    assert [rule_id for rule_id in ids if not RULE_ID.match(rule_id)] == []


def test_catalogue_matches_the_rules_module() -> None:
    """The catalogue lists exactly the rule ids `oeskit.domain.rules` defines."""
    assert {rule["id"] for rule in catalogue()} == declared_rule_ids()


def test_rules_have_status_step_operations_and_title() -> None:
    """Each rule has an integer status, an optional step 1..10, known operationIds, a title
    and an optional appliesTo (every-operation or operations-with-body)."""
    known = {operation["operationId"] for _, _, operation in operations(load_spec())}
    problems = []
    for rule in catalogue():
        if set(rule) - {"id", "status", "step", "operations", "title", "appliesTo"}:
            problems.append(f"{rule['id']}: unexpected keys")
        if rule.get("appliesTo", "every-operation") not in (
            "every-operation",
            "operations-with-body",
        ):
            problems.append(f"{rule['id']}: appliesTo")
        if not isinstance(rule.get("status"), int) or not 200 <= rule["status"] <= 599:
            problems.append(f"{rule['id']}: status")
        if "step" in rule and rule["step"] not in range(1, 11):
            problems.append(f"{rule['id']}: step")
        if not isinstance(rule.get("operations"), list) or set(rule["operations"]) - known:
            problems.append(f"{rule['id']}: operations")
        if not isinstance(rule.get("title"), str) or not rule["title"].strip():
            problems.append(f"{rule['id']}: title")
    assert problems == []


def test_every_error_status_of_a_rule_is_declared_by_its_operations() -> None:
    """A rule producing a status >= 400 has that status declared on every operation it lists."""
    declared = {
        operation["operationId"]: {int(status) for status in operation["responses"]}
        for _, _, operation in operations(load_spec())
    }
    undeclared = [
        f"{rule['id']} -> {operation_id} {rule['status']}"
        for rule in catalogue()
        if rule["status"] >= 400
        for operation_id in rule["operations"]
        if rule["status"] not in declared[operation_id]
    ]
    assert undeclared == []


def test_rules_without_operations_have_a_documented_response() -> None:
    """A rule the router applies outside any operation has its response in components.responses."""
    spec = load_spec()
    documented = {
        media["example"].get("rule")
        for response in spec["components"]["responses"].values()
        for media in response["content"].values()
    }
    orphans = [
        rule["id"]
        for rule in catalogue()
        if not rule["operations"] and rule["id"] not in documented
    ]
    assert orphans == []


def test_v2_operation_references_the_catalogue() -> None:
    """The v2 staging operation's description points readers to `x-oeskit-rules`."""
    operation = load_spec()["paths"][
        "/api/network/v2/enterprises/{enterpriseId}/partners/settlements"
    ]["post"]
    assert operation["operationId"] == "v2PartnerSettlementsPostRoute"
    assert "x-oeskit-rules" in operation["description"]


def test_v2_request_example_payload_matches_its_fields() -> None:
    """The v2 request example's `payload` holds exactly its signed fields, as signing returns it."""
    spec = load_spec()
    v2 = spec["paths"]["/api/network/v2/enterprises/{enterpriseId}/partners/settlements"]["post"]
    body = v2["requestBody"]["content"]["application/json"]["example"]
    signed = {
        key: body[key] for key in ("externalId", "notes", "settlementAmounts", "nonce", "cutoffAt")
    }
    assert json.loads(body["payload"]) == signed
    signing = spec["components"]["responses"]["SigningPayload"]["content"]["application/json"][
        "example"
    ]
    assert signing["payload"] == body["payload"]
