"""The contract tools handle partner-hosted.yaml: `oeskit lint` checks it by default, `oeskit
diff` classes its changes, and `oeskit docs build` gives it a page and its rules anchors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from oeskit import spec
from oeskit.cli import main

HOSTED = spec.partner_hosted_path()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    result = CliRunner().invoke(main, ["docs", "build", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_lint_checks_partner_hosted_by_default() -> None:
    """`oeskit lint` with no argument lints partner-hosted.yaml too (and finds nothing)."""
    result = CliRunner().invoke(main, ["lint", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert any(source.endswith("partner-hosted.yaml") for source in result.output.split('"'))


def test_lint_catches_a_rule_status_the_operation_does_not_declare(tmp_path: Path) -> None:
    """A PH rule whose status an operation it names does not declare is an error."""
    document = spec.read(HOSTED)
    del document["paths"]["/bitgo/v1/connections"]["post"]["responses"]["422"]
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.dump(document, Dumper=yaml.CSafeDumper))
    result = CliRunner().invoke(main, ["lint", str(broken)])
    assert result.exit_code == 1
    assert "rule PH-CON-002 answers 422 but createConnection does not document it" in result.output


def test_diff_classes_a_dropped_required_response_field_as_breaking(tmp_path: Path) -> None:
    """Making partnersAllocationId optional breaks BitGo, which reads it: `oeskit diff
    --fail-on breaking` exits 1 naming the operation; a document against itself exits 0."""
    document = spec.read(HOSTED)
    document["components"]["schemas"]["Allocation"]["required"].remove("partnersAllocationId")
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.dump(document, Dumper=yaml.CSafeDumper))
    result = CliRunner().invoke(main, ["diff", str(HOSTED), str(changed), "--fail-on", "breaking"])
    assert result.exit_code == 1
    assert "response-property-became-optional (POST /bitgo/v1/allocations)" in result.output
    same = CliRunner().invoke(main, ["diff", str(HOSTED), str(HOSTED), "--fail-on", "any"])
    assert same.exit_code == 0, same.output


def test_docs_site_has_the_partner_hosted_page(built: Path) -> None:
    """partner-hosted.html documents each operation with its statuses and the decisions; the
    navigation links to it."""
    html = (built / "partner-hosted.html").read_text()
    for _, _, op in (
        (p, m, o) for p, item in spec.load(HOSTED)["paths"].items() for m, o in item.items()
    ):
        assert f'id="op-{op["operationId"]}"' in html
    assert "Release routes are inferred, not published" in html
    assert "X-BitGo-Signature" in html
    assert 'href="partner-hosted.html"' in (built / "index.html").read_text()


def test_rules_page_anchors_every_ph_rule_to_its_operations(built: Path) -> None:
    """rules.html has an anchor per PH rule, linking to its operations on partner-hosted.html."""
    html = (built / "rules.html").read_text()
    for rule in spec.rules_catalogue(spec.load(HOSTED)):
        assert f'id="rule-{rule["id"]}"' in html
    section = html.split('id="rule-PH-DEA-002"')[1].split("</section>")[0]
    assert 'href="partner-hosted.html#op-createDeallocation"' in section


def test_docs_build_takes_another_partner_hosted_document(tmp_path: Path) -> None:
    """--partner-hosted FILE renders that document's title on the page."""
    document = spec.read(HOSTED)
    document["info"]["title"] = "Acme exchange endpoints"
    other = tmp_path / "acme.yaml"
    other.write_text(yaml.dump(document, Dumper=yaml.CSafeDumper))
    out = tmp_path / "site"
    result = CliRunner().invoke(
        main, ["docs", "build", "--partner-hosted", str(other), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "Acme exchange endpoints" in (out / "partner-hosted.html").read_text()
