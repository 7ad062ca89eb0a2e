"""The contract `partner-hosted.yaml`: valid OpenAPI 3.0.3, every example validates, the rules
catalogue is well formed and its statuses are declared, and `oeskit lint` finds nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from openapi_spec_validator import validate

from oeskit import spec
from oeskit.cli import main
from tests.unit.test_spec import operations, resolve, validator_for

SPEC_PATH = Path(__file__).resolve().parents[2] / "partner-hosted.yaml"
RULE_ID = re.compile(r"^PH-[A-Z]+-\d{3}$")
ROUTES = {
    ("post", "/bitgo/v1/connections"),
    ("post", "/bitgo/v1/allocations"),
    ("post", "/bitgo/v1/deallocations"),
    ("put", "/bitgo/v1/allocation/{allocationId}/clear"),
    ("put", "/bitgo/v1/allocation/{allocationId}/release"),
    ("put", "/bitgo/v1/deallocation/{deallocationId}/clear"),
    ("put", "/bitgo/v1/deallocation/{deallocationId}/release"),
}


@cache
def load_spec() -> dict[str, Any]:
    with SPEC_PATH.open(encoding="utf-8") as handle:
        data: dict[str, Any] = yaml.safe_load(handle)
    return data


def examples() -> Iterator[tuple[str, dict[str, Any], Any]]:
    """Every (readable id, schema, example) of request bodies, responses and parameters."""
    document = load_spec()
    for method, path, operation in operations(document):
        name = f"{method.upper()} {path}"
        if "requestBody" in operation:
            for media in resolve(document, operation["requestBody"])["content"].values():
                yield f"{name} request", media["schema"], media.get("example")
        for status, response in operation["responses"].items():
            for media in resolve(document, response).get("content", {}).values():
                yield f"{name} {status}", media["schema"], media.get("example")
        for parameter in operation.get("parameters", []):
            parameter = resolve(document, parameter)
            yield f"{name} param {parameter['name']}", parameter["schema"], parameter["example"]


def catalogue() -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = load_spec()["x-oeskit-rules"]
    return rules


def test_contract_is_valid_openapi_3_0_3_and_found_by_spec() -> None:
    """partner-hosted.yaml is valid OpenAPI 3.0.3, and `spec` finds this very file."""
    document = load_spec()
    assert document["openapi"] == "3.0.3"
    validate(document)
    assert spec.partner_hosted_path() == SPEC_PATH


def test_contract_has_the_seven_routes_with_operation_ids() -> None:
    """The routes of the issue, each with an operationId a stub generator can name a handler by."""
    found = {(method, path) for method, path, _ in operations(load_spec())}
    assert found == ROUTES
    ids = [op["operationId"] for _, _, op in operations(load_spec())]
    assert len(set(ids)) == 7
    assert all(re.fullmatch(r"[a-z][A-Za-z]+", op_id) for op_id in ids)


def test_security_is_the_x_bitgo_signature_header() -> None:
    """Every operation is secured by the header X-BitGo-Signature; the server is a variable."""
    document = load_spec()
    scheme = document["components"]["securitySchemes"]["bitgoSignature"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == (
        "apiKey",
        "header",
        "X-BitGo-Signature",
    )
    assert document["security"] == [{"bitgoSignature": []}]
    assert document["servers"][0]["url"] == "{baseUrl}"


def test_release_routes_are_marked_inferred() -> None:
    """The contract says the release routes are inferred, not published (description and ops)."""
    document = load_spec()
    assert "inferred, not published" in document["info"]["description"]
    for path in (
        "/bitgo/v1/allocation/{allocationId}/release",
        "/bitgo/v1/deallocation/{deallocationId}/release",
    ):
        operation = document["paths"][path]["put"]
        assert "inferred route" in operation["summary"] + operation["description"].lower()


@pytest.mark.parametrize(
    ("schema", "example"), [pytest.param(s, e, id=i) for i, s, e in examples()]
)
def test_example_validates_against_its_schema(schema: dict[str, Any], example: Any) -> None:
    """Each example of a request body, response or parameter validates against its schema."""
    assert example is not None, "no example"
    problems = validator_for(load_spec(), schema).problems(example, limit=None)
    assert [f"{p.where}: {p.message}" for p in problems] == []


def test_error_examples_name_a_catalogued_rule_with_their_status() -> None:
    """Every error example's `rule` is catalogued with the status it is filed under."""
    document = load_spec()
    status_of = {rule["id"]: rule["status"] for rule in catalogue()}
    wrong = []
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                for media in resolve(document, response)["content"].values():
                    if status_of.get(media["example"]["rule"]) != int(status):
                        wrong.append(f"{method} {path} {status}")
    assert wrong == []


def test_rules_are_well_formed_and_their_statuses_declared() -> None:
    """Unique PH- ids, a title, known operations that all declare the rule's status, and only
    the declared capabilities."""
    document = load_spec()
    declared = {
        op["operationId"]: {int(status) for status in op["responses"]}
        for _, _, op in operations(document)
    }
    capabilities = set(document["x-oeskit-capabilities"])
    ids = [rule["id"] for rule in catalogue()]
    assert len(ids) == len(set(ids))
    problems = [
        f"{rule['id']}: {what}"
        for rule in catalogue()
        for what, bad in (
            ("id", not RULE_ID.match(rule["id"])),
            ("title", not str(rule.get("title", "")).strip()),
            ("capability", rule.get("capability", "release") not in capabilities),
            ("keys", bool(set(rule) - {"id", "status", "operations", "title", "capability"})),
            ("status", any(rule["status"] not in declared[op] for op in rule["operations"])),
        )
        if bad
    ]
    assert problems == []


def test_every_decision_of_the_issue_is_in_the_description() -> None:
    """The Decisions list names each point the issue fixes."""
    text = " ".join(load_spec()["info"]["description"].split())
    for phrase in (
        "## Decisions",
        "Release routes are inferred",
        "Clear and release take no body",
        "positive integer string in base units",
        "One shared unique index",
        "Racing duplicates",
        "Rejection is a 200",
        "Not found.",
        "answers 422",
        "answers 409",
        "answers 400",
        "HS256 keyed with the public key",
        "bodyBinding",
    ):
        assert phrase in text, phrase


def test_oeskit_lint_finds_nothing_in_the_contract() -> None:
    """`oeskit lint partner-hosted.yaml` reports no error and no warning."""
    result = CliRunner().invoke(main, ["lint", str(SPEC_PATH)])
    assert result.exit_code == 0, result.output
    assert "0 error(s), 0 warning(s)" in result.output


def test_catalogue_matches_the_reference_rules_module() -> None:
    """The catalogue lists exactly the rule ids `oeskit.hosted.rules` names."""
    from oeskit.hosted import rules

    named = {v for v in vars(rules).values() if isinstance(v, str) and v.startswith("PH-")}
    assert {rule["id"] for rule in catalogue()} == named
