"""The wheel is the product: installed in a fresh venv, every command works from an empty folder
that is not the checkout, with the packaged worlds, scenarios and profiles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.kit.conftest import Kit
from tests.kit.readme import ReadmeRun

# Builds a wheel and installs it with its dependencies: once, on the one xdist worker of "kit".
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("kit")]
EXCHANGE = "5a1f7f0e-0c1d-4f7e-9a0b-7d0d6b1e0001"


@pytest.fixture
def empty(tmp_path: Path) -> Path:
    folder = tmp_path / "empty"
    folder.mkdir()
    return folder


def test_serve_and_conform_from_an_empty_folder(readme_run: ReadmeRun) -> None:
    """`oeskit serve --world demo` and `oeskit conform` (scenarios and the fuzz pass) run from
    empty folders: 0 failed, reports written where conform ran, the database where serve ran.
    The run read here is the README's own conform command (tests/kit/readme.py), not a second
    conform against a second server."""
    ran = readme_run.find(r"(\.venv/bin/)?oeskit conform --target http://127\.0\.0\.1:8080 "
                          r"--sandbox-token (?!wrong)\S+")  # fmt: skip
    done = ran.done
    assert done.returncode == 0, done.stdout + done.stderr
    assert " 0 failed" in done.stdout
    reports = list((ran.folder / "reports").glob("*/report.json"))
    assert len(reports) == 1
    assert (reports[0].parent / "junit.xml").is_file()
    summary = json.loads(reports[0].read_text())["summary"]
    assert summary["failed"] == 0 and summary["passed"] > 0
    assert (readme_run.server_folder / "sandbox.db").is_file()


def test_world_keys_sign_doctor_from_an_empty_folder(kit: Kit, empty: Path) -> None:
    """`world check demo`, `world load minimal`, `keys generate`, `sign --world demo` and
    `doctor` work by packaged name from an empty folder."""
    checked = kit.run("oeskit", "world", "check", "demo", cwd=empty)
    assert checked.returncode == 0, checked.stderr
    assert "valid (9 enterprises" in checked.stdout
    loaded = kit.run("oeskit", "world", "load", "minimal", "--db", "w.db", cwd=empty)
    assert loaded.returncode == 0, loaded.stderr
    key = kit.run("oeskit", "keys", "generate", "--json", cwd=empty)
    assert key.returncode == 0, key.stderr
    assert set(json.loads(key.stdout)) >= {"publicKey", "privateKey"}
    (empty / "request.json").write_text(json.dumps({"externalId": "x-1", "settlementAmounts": {}}))
    signed = kit.run(
        "oeskit", "sign", "--world", "demo", "--partner", EXCHANGE, "request.json", cwd=empty
    )
    assert signed.returncode == 0, signed.stderr
    assert {"payload", "signature"} <= set(json.loads(signed.stdout))
    doctor = kit.run("oeskit", "doctor", "--db", "w.db", cwd=empty)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr


def test_unknown_world_name_lists_the_packaged_ones(kit: Kit, empty: Path) -> None:
    """`oeskit serve --world nope` is a usage error (exit 2) naming demo and minimal."""
    done = kit.run("oeskit", "serve", "--world", "nope", cwd=empty)
    assert done.returncode == 2
    assert "no packaged world 'nope'; packaged worlds: demo, minimal" in done.stderr


def test_contract_tools_from_an_empty_folder(readme_run: ReadmeRun) -> None:
    """`oeskit lint` (the packaged contracts, partner-hosted.yaml included, and scenarios) and
    `oeskit docs build` run from an empty folder and write the site there (the README's own
    commands, run once by tests/kit/readme.py)."""
    lint = readme_run.find(r"(\.venv/bin/)?oeskit lint").done
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "3 document(s)" in lint.stdout
    built = readme_run.find(r"(\.venv/bin/)?oeskit docs build --out site")
    assert built.done.returncode == 0, built.done.stdout + built.done.stderr
    assert (built.folder / "site" / "index.html").is_file()
    assert (built.folder / "site" / "rules.html").is_file()
    assert (built.folder / "site" / "partner-hosted.html").is_file()
