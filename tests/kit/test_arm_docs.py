"""The fixture's `arm(fault, **options)` is documented where a partner looks: every fault kind
of the control plane's contract and every option it takes appear in `OeskitSandbox.arm`'s
docstring, the fixture's, and the README's faults table (derived from sandbox.yaml, so a new
kind or option that is not documented fails here)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from oeskit import spec
from oeskit.pytest_plugin import oeskit_sandbox
from oeskit.testing.sandbox import OeskitSandbox

README = Path(__file__).resolve().parents[2] / "README.md"


def _snake(name: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def _faults() -> dict[str, set[str]]:
    """Each fault kind and the options (snake_case) its request schema takes."""
    schemas = spec.load(spec.sandbox_path())["components"]["schemas"]
    out = {}
    for name, schema in schemas.items():
        if name.endswith("FaultRequest"):
            (kind,) = schema["properties"]["kind"]["enum"]
            out[kind] = {_snake(p) for p in schema["properties"] if p != "kind"}
    return out


def _readme_rows() -> dict[str, str]:
    block = README.read_text().split("<!-- faults:arm -->")[1].split("<!-- /faults:arm -->")[0]
    rows = {}
    for line in block.splitlines():
        found = re.match(r'\| `"(\w+)"` \|', line)
        if found:
            rows[found.group(1)] = line
    return rows


def test_the_contract_has_the_four_faults() -> None:
    assert set(_faults()) == {"fail_after_commit", "hold", "busy", "latency"}


@pytest.mark.parametrize("kind", sorted(_faults()))
def test_every_fault_and_option_is_documented(kind: str) -> None:
    """The kind and each of its options are in arm's docstring (on the kind's own line), the
    fixture's docstring and the README row of that kind; the README row names no option the
    kind does not take."""
    options = _faults()[kind]
    arm_doc = OeskitSandbox.arm.__doc__ or ""
    (arm_line,) = [line for line in arm_doc.split("- `arm(")[1:] if line.startswith(f'"{kind}"')]
    fixture_doc = " ".join((oeskit_sandbox.__wrapped__.__doc__ or "").split())  # type: ignore[attr-defined]
    fixture_part = fixture_doc.split(f"`{kind}` (")[1].split(")")[0]
    row = _readme_rows()[kind]
    for option in options:
        assert option in arm_line, (kind, option)
        assert option in fixture_part, (kind, option)
        assert f"`{option}`" in row, (kind, option)
    named = set(re.findall(r"`([a-z_]+)`", row.split("|")[3]))
    assert named == options
