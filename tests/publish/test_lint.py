"""`oeskit lint`: the contract and the control plane lint without errors, and every check
fails on the defect it exists for (a defect-injected copy of the contract)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from oeskit import spec
from oeskit.cli import main

V2 = "/api/network/v2/enterprises/{enterpriseId}/partners/settlements"
SIGNING = "/api/network/v1/enterprises/{enterpriseId}/partners/settlements-signing"
Doc = dict[str, Any]


def _v2(doc: Doc) -> Doc:
    op: Doc = doc["paths"][V2]["post"]
    return op


def _rule(doc: Doc, rule_id: str) -> Doc:
    return next(r for r in doc["x-oeskit-rules"] if r["id"] == rule_id)


def _request_example(doc: Doc) -> Doc:
    example: Doc = _v2(doc)["requestBody"]["content"]["application/json"]["example"]
    return example


def _set(target: Doc, key: str, value: Any) -> None:
    target[key] = value


DEFECTS: dict[str, tuple[str, Callable[[Doc], None]]] = {
    "invalid-openapi": ("openapi-valid", lambda d: d["info"].pop("title")),
    "dangling-ref": (
        "ref-resolves",
        lambda d: _set(
            _v2(d)["responses"]["400"]["content"]["application/json"]["schema"],
            "$ref",
            "#/components/schemas/Nope",
        ),
    ),
    "example-breaks-schema": (
        "example-valid",
        lambda d: _set(_request_example(d), "externalId", ""),
    ),
    "example-breaks-format": (
        "example-valid",
        lambda d: _set(_request_example(d), "cutoffAt", "yesterday at noon"),
    ),
    "example-breaks-uuid-format": (
        "example-valid",
        lambda d: _set(
            _v2(d)["responses"]["422"]["content"]["application/json"]["example"],
            "connectionId",
            "not-a-uuid",
        ),
    ),
    "no-operation-id": ("operation-id", lambda d: _v2(d).pop("operationId")),
    "no-summary": ("operation-summary", lambda d: _v2(d).pop("summary")),
    "no-request-example": (
        "request-example",
        lambda d: _v2(d)["requestBody"]["content"]["application/json"].pop("example"),
    ),
    "no-response-example": (
        "response-example",
        lambda d: _v2(d)["responses"]["200"]["content"]["application/json"].pop("example"),
    ),
    "error-without-error-schema": (
        "error-schema",
        lambda d: _set(
            _v2(d)["responses"]["409"]["content"]["application/json"], "schema", {"type": "object"}
        ),
    ),
    "duplicate-rule-id": (
        "rule-id-unique",
        lambda d: d["x-oeskit-rules"].append(dict(d["x-oeskit-rules"][0])),
    ),
    "rule-status-undocumented": (
        "rule-status-documented",
        lambda d: _set(_rule(d, "OES-BAL-001"), "status", 418),
    ),
    "status-missing-on-an-operation": (
        "rule-status-documented",
        lambda d: d["paths"][SIGNING]["get"]["responses"].pop("413"),
    ),
    "rule-applies-but-does-not-list": (
        "rule-applies",
        lambda d: _rule(d, "OES-REQ-003")["operations"].remove("v1PartnerBalancesGetRoute"),
    ),
    "rule-applies-to-unknown-set": (
        "rule-applies",
        lambda d: _set(_rule(d, "OES-REQ-003"), "appliesTo", "some-operations"),
    ),
    "rule-names-unknown-operation": (
        "rule-operation-known",
        lambda d: _rule(d, "OES-BAL-001")["operations"].append("noSuchOperation"),
    ),
    "rule-without-scenario": (
        "rule-has-scenario",
        lambda d: d["x-oeskit-rules"].append(
            {"id": "OES-NEW-001", "status": 400, "operations": [], "title": "New."}
        ),
    ),
}


def _lint(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["lint", *args])
    return result.exit_code, result.output


def test_contract_and_control_plane_lint_without_errors() -> None:
    """openapi.yaml, sandbox.yaml and partner-hosted.yaml (the defaults) have no error; exit 0."""
    code, output = _lint()
    assert code == 0, output
    assert output.splitlines()[-1].startswith("3 document(s): 0 error(s)")


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_each_check_catches_its_defect(defect: str, tmp_path: Path) -> None:
    """A contract with one injected defect fails lint (exit 1) with that check's id."""
    check, inject = DEFECTS[defect]
    document = spec.read(spec.contract_path())
    inject(document)
    broken = tmp_path / "openapi.yaml"
    broken.write_text(yaml.dump(document, Dumper=yaml.CSafeDumper, sort_keys=False))
    code, output = _lint(str(broken), "--format", "json")
    assert code == 1, output
    findings = json.loads(output)["findings"]
    assert check in {f["check"] for f in findings if f["severity"] == "error"}, findings


def test_warnings_alone_exit_0(tmp_path: Path) -> None:
    """An unused component is a warning: reported, exit 0."""
    document = spec.read(spec.contract_path())
    document["components"]["schemas"]["Orphan"] = {"type": "string"}
    source = tmp_path / "openapi.yaml"
    source.write_text(yaml.dump(document, Dumper=yaml.CSafeDumper, sort_keys=False))
    code, output = _lint(str(source))
    assert code == 0
    assert "warning component-unused /components/schemas/Orphan" in output


def test_sarif_and_junit(tmp_path: Path) -> None:
    """SARIF names each finding's check as ruleId; JUnit has a failure per error."""
    document = spec.read(spec.contract_path())
    _v2(document).pop("summary")
    source = tmp_path / "openapi.yaml"
    source.write_text(yaml.dump(document, Dumper=yaml.CSafeDumper, sort_keys=False))
    code, output = _lint(str(source), "--format", "sarif")
    sarif = json.loads(output)
    assert code == 1 and sarif["version"] == "2.1.0"
    assert [r["ruleId"] for r in sarif["runs"][0]["results"] if r["level"] == "error"] == [
        "operation-summary"
    ]
    code, output = _lint(str(source), "--format", "junit")
    suites = ET.fromstring(output.split("?>", 1)[1])  # noqa: S314 - our own output
    failures = suites.findall(".//testcase[@name='operation-summary']/failure")
    assert len(failures) == 1 and "has no summary" in failures[0].attrib["message"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "no such file"),
        ("{not json", "not YAML or JSON"),
        ("openapi: '2.0'\n", "not an OpenAPI 3 document (`openapi: 2.0`)"),
    ],
    ids=["missing", "not-yaml", "not-openapi"],
)
def test_bad_input_exits_2(tmp_path: Path, content: str | None, problem: str) -> None:
    """A spec that cannot be read is one line naming the file and the problem, exit 2."""
    bad = tmp_path / "spec.json"
    if content is not None:
        bad.write_text(content)
    code, output = _lint(str(spec.contract_path()), str(bad))
    assert code == 2
    assert output == f"oeskit lint: {bad}: {problem}\n" or (
        output.startswith(f"oeskit lint: {bad}: {problem}") and output.count("\n") == 1
    )


def test_schema_level_example_is_checked(tmp_path: Path) -> None:
    """An `example` written on a schema itself is validated against that schema too."""
    document = spec.read(spec.sandbox_path())
    document["components"]["schemas"]["Uuid"]["example"] = "not-a-uuid"
    source = tmp_path / "sandbox.yaml"
    source.write_text(yaml.dump(document, Dumper=yaml.CSafeDumper, sort_keys=False))
    code, output = _lint(str(source), "--format", "json")
    findings = json.loads(output)["findings"]
    assert code == 1
    assert {f["path"] for f in findings if f["check"] == "example-valid"} == {
        "/components/schemas/Uuid/example"
    }
