"""The scenarios and the rules catalogue agree both ways, and every scenario file is valid."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from oeskit.conformance import contract
from oeskit.conformance.scenario import ScenarioError, load_scenarios, parse_scenario, scenarios_dir

SCENARIOS = load_scenarios()


def test_every_rule_has_a_scenario() -> None:
    """Each rule of x-oeskit-rules is named by at least one scenario."""
    covered = {rule for s in SCENARIOS for rule in s.rules}
    assert contract.rule_ids() - covered == set()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.id for s in SCENARIOS])
def test_scenario_names_only_catalogue_rules(scenario: object) -> None:
    """Every rule a scenario names is in the catalogue."""
    assert set(scenario.rules) <= contract.rule_ids()  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", sorted(scenarios_dir().glob("*.yaml")), ids=lambda p: p.name)
def test_scenario_file_loads(path: Path, tmp_path: Path) -> None:
    """Each scenario file parses and validates on its own."""
    (tmp_path / path.name).write_text(path.read_text())
    assert load_scenarios(tmp_path, contract.rule_ids())


def test_unknown_rule_is_refused() -> None:
    """A scenario naming a rule outside the catalogue is a ScenarioError."""
    raw = {"id": "x", "title": "x", "rules": ["OES-NOPE-001"], "steps": [{"call": "GET /x"}]}
    with pytest.raises(ScenarioError, match="OES-NOPE-001"):
        parse_scenario(raw, "t.yaml", contract.rule_ids())


def test_no_stored_signatures() -> None:
    """Scenario files never carry a signature: bodies are signed at run time."""
    for path in scenarios_dir().glob("*.yaml"):
        assert "signature:" not in path.read_text().replace("signature: flip", "").replace(
            "signature: base64", ""
        ).replace("signature: truncate", "").replace('signature: "00"', "")


def test_conformance_never_imports_the_implementation() -> None:
    """conformance/ imports neither oeskit.domain, oeskit.store nor oeskit.http."""
    root = Path(__file__).resolve().parents[2] / "src" / "oeskit" / "conformance"
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                assert not name.startswith(("oeskit.domain", "oeskit.store", "oeskit.http")), (
                    f"{path.name} imports {name}"
                )
