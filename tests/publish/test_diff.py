"""`oeskit diff`: every change classed as oasdiff's published checks would class it, on a
corpus of (old, new, expected class) pairs, plus odd and unrelated documents and the CLI."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from oeskit import spec
from oeskit.cli import main
from oeskit.publish.changes import CLASSES
from oeskit.publish.diff import diff

CORPUS: list[dict[str, Any]] = yaml.safe_load(
    (Path(__file__).parent / "diff_corpus.yaml").read_text()
)


def _document(case: dict[str, Any], side: str) -> dict[str, Any]:
    doc: dict[str, Any] = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}}
    if "doc" in case:
        doc.update(copy.deepcopy(case["doc"][side]))
        return doc
    schema = case["schema"][side]
    content = {"application/json": {"schema": schema}}
    op: dict[str, Any] = {"responses": {"200": {"description": "ok"}}}
    if case["schema"]["direction"] == "request":
        op["requestBody"] = {"content": content}
    else:
        op["responses"]["200"]["content"] = content
    doc["paths"] = {"/things": {"post": op}}
    doc["components"] = {"schemas": case.get("components", {})}
    return doc


@pytest.mark.parametrize("case", CORPUS, ids=[c["id"] for c in CORPUS])
def test_corpus_pair_is_classed(case: dict[str, Any]) -> None:
    """Each corpus pair yields exactly the one expected (class, check), with a path and a why."""
    changes = diff(_document(case, "old"), _document(case, "new"))
    assert [(c.klass, c.check) for c in changes] == [tuple(case["expect"])]
    assert changes[0].path.startswith("/") and changes[0].message


def test_corpus_covers_every_class() -> None:
    """The corpus holds at least one pair of each class, and several breaking ones per area."""
    classes = {case["expect"][0] for case in CORPUS}
    assert classes == set(CLASSES)
    checks = {case["expect"][1] for case in CORPUS if case["expect"][0] == "breaking"}
    assert {"operation-removed", "rule-removed", "response-required-property-removed"} <= checks


def test_same_contract_has_no_change() -> None:
    """The contract compared with itself yields nothing (refs and cycles guard included)."""
    document = spec.read(spec.contract_path())
    assert diff(document, copy.deepcopy(document)) == []


def test_contract_change_names_path_and_rule() -> None:
    """A narrowed field of the v2 body is found behind its $ref, with a JSON pointer and the
    operation it affects."""
    old = spec.read(spec.contract_path())
    new = copy.deepcopy(old)
    new["components"]["schemas"]["V2PartnerSettlementRequest"]["properties"]["notes"][
        "minLength"
    ] = 10
    changes = [c for c in diff(old, new) if c.operation.startswith("POST /api/network/v2")]
    assert [(c.klass, c.check) for c in changes] == [("breaking", "request-length-narrowed")]
    assert changes[0].path.endswith(
        "/requestBody/content/application~1json/schema/properties/notes/minLength"
    )


def test_rule_catalogue_change_is_breaking() -> None:
    """Changing the status of OES-BAL-001 in the real catalogue is a breaking rule change."""
    old = spec.read(spec.contract_path())
    new = copy.deepcopy(old)
    rule = next(r for r in new["x-oeskit-rules"] if r["id"] == "OES-BAL-001")
    rule["status"] = 400
    changes = diff(old, new)
    assert [(c.klass, c.check, c.path) for c in changes] == [
        ("breaking", "rule-status-changed", "/x-oeskit-rules/OES-BAL-001/status")
    ]


def test_unrelated_contracts_are_classed_without_crash() -> None:
    """The contract against the control plane's: every change classed, every operation of
    either side accounted for."""
    old = spec.read(spec.contract_path())
    new = spec.read(spec.sandbox_path())
    changes = diff(old, new)
    assert {c.klass for c in changes} <= set(CLASSES)
    removed = {c.operation for c in changes if c.check == "operation-removed"}
    assert "POST /api/network/v2/enterprises/{enterpriseId}/partners/settlements" in removed
    assert any(c.check == "rule-removed" for c in changes)


@pytest.mark.parametrize(
    "odd",
    [
        {"paths": {"/x": 5}},
        {"paths": {"/x": {"get": {"responses": {"200": {"content": {"a/b": {"schema": 1}}}}}}}},
        {"paths": {"/x": {"get": {"parameters": [{"$ref": "#/nowhere"}], "responses": []}}}},
        {"paths": [], "x-oeskit-rules": [1, {"id": None}]},
        {
            "paths": {
                "/x": {
                    "post": {
                        "requestBody": {
                            "content": {
                                "a/b": {
                                    "schema": {
                                        "type": ["string", "null"],
                                        "properties": 3,
                                        "required": "a",
                                        "enum": 4,
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    ],
    ids=["path-not-object", "schema-not-object", "dangling-ref", "lists", "bad-keywords"],
)
def test_odd_documents_never_crash(odd: dict[str, Any]) -> None:
    """Documents of any shape compare both ways without an exception."""
    base = {"openapi": "3.0.3", **spec.read(spec.sandbox_path())}
    odd = {"openapi": "3.0.3", **odd}
    for old, new in ((odd, base), (base, odd), (odd, odd)):
        for change in diff(old, new):
            assert change.klass in CLASSES


def test_recursive_schema_terminates() -> None:
    """A self-referencing schema is compared once per pair of refs, and a change inside it is
    still found."""

    def doc(max_length: int) -> dict[str, Any]:
        node = {
            "type": "object",
            "properties": {
                "name": {"type": "string", "maxLength": max_length},
                "child": {"$ref": "#/components/schemas/Node"},
            },
        }
        return {
            "openapi": "3.0.3",
            "components": {"schemas": {"Node": node}},
            "paths": {
                "/t": {
                    "post": {
                        "requestBody": {
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Node"}
                                }
                            }
                        },
                        "responses": {},
                    }
                }
            },
        }

    changes = diff(doc(10), doc(5))
    assert [(c.klass, c.check) for c in changes] == [("breaking", "request-length-narrowed")]


def _contracts(tmp_path: Path, narrowed: bool) -> tuple[Path, Path]:
    old = tmp_path / "old.yaml"
    new = tmp_path / "new.yaml"
    document = spec.read(spec.contract_path())
    old.write_text(yaml.dump(document, Dumper=yaml.CSafeDumper))
    if narrowed:
        document["x-oeskit-rules"] = document["x-oeskit-rules"][1:]
    new.write_text(yaml.dump(document, Dumper=yaml.CSafeDumper))
    return old, new


def test_cli_fail_on_breaking_exits_1(tmp_path: Path) -> None:
    """--fail-on breaking exits 1 when a rule is removed, and the text names the rule id."""
    old, new = _contracts(tmp_path, narrowed=True)
    result = CliRunner().invoke(main, ["diff", str(old), str(new), "--fail-on", "breaking"])
    assert result.exit_code == 1, result.output
    assert "rule-removed" in result.output and "/x-oeskit-rules/OES-AUTH-001" in result.output


def test_cli_without_fail_on_exits_0(tmp_path: Path) -> None:
    """Without --fail-on the diff reports and exits 0 even with breaking changes."""
    old, new = _contracts(tmp_path, narrowed=True)
    result = CliRunner().invoke(main, ["diff", str(old), str(new)])
    assert result.exit_code == 0 and "1 breaking" in result.output


def test_cli_markdown_is_a_table(tmp_path: Path) -> None:
    """--format md prints a heading and a table row per change, fit for a PR comment."""
    old, new = _contracts(tmp_path, narrowed=True)
    result = CliRunner().invoke(main, ["diff", str(old), str(new), "--format", "md"])
    lines = result.output.splitlines()
    assert lines[0] == "### Contract diff: breaks partners"
    assert "| class | check | where | why |" in lines
    assert any(line.startswith("| **breaking** | `rule-removed`") for line in lines)


def test_cli_json(tmp_path: Path) -> None:
    """--format json has a summary and one object per change."""
    old, new = _contracts(tmp_path, narrowed=False)
    result = CliRunner().invoke(main, ["diff", str(old), str(new), "--format", "json"])
    body = json.loads(result.output)
    assert body["summary"] == {"breaking": 0, "warning": 0, "non-breaking": 0}
    assert body["changes"] == []


def test_cli_reads_git_revisions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """REV:PATH reads a committed version through git show."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    contract = repo / "openapi.yaml"
    contract.write_text(spec.contract_path().read_text())
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    document = yaml.safe_load(contract.read_text())
    del document["paths"]["/api/network/v2/enterprises/{enterpriseId}/partners/settlements"]
    contract.write_text(yaml.dump(document, Dumper=yaml.CSafeDumper))
    monkeypatch.chdir(repo)
    result = CliRunner().invoke(main, ["diff", "HEAD:openapi.yaml", "openapi.yaml"])
    assert result.exit_code == 0, result.output
    assert "operation-removed (POST /api/network/v2/" in result.output


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "no such file"),
        ("a: [unclosed\n", "not YAML or JSON"),
        ("swagger: '2.0'\n", "not an OpenAPI 3 document"),
        ("- 1\n", "not an OpenAPI document"),
    ],
    ids=["missing", "not-yaml", "not-openapi", "not-mapping"],
)
def test_cli_bad_input_exits_2(tmp_path: Path, content: str | None, problem: str) -> None:
    """A bad OLD or NEW is one line naming the file and the problem, exit 2."""
    bad = tmp_path / "bad.yaml"
    if content is not None:
        bad.write_text(content)
    result = CliRunner().invoke(main, ["diff", str(spec.contract_path()), str(bad)])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert str(bad) in result.output and problem in result.output
