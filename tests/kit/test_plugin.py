"""The pytest plugin as a partner uses it: test files run by pytester against the installed
`oeskit_sandbox` fixture (entry point `pytest11`), each run with its own sandbox server; the
files that need no option of their own share one run (`partner_run`), read file by file."""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN, start_server, stop_server

ROOT = Path(__file__).resolve().parents[2]
SETTLEMENTS = "/api/network/v1/enterprises/ent-exchange/partners/settlements"
TOKEN = {"Authorization": "Bearer demo-exchange-token"}
EXAMPLE = ROOT / "examples" / "test_partner_example.py"

RECORDING = """
import json, os

def record(sandbox, name):
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    listed = sandbox.client.get(
        f"/api/network/v1/enterprises/{sandbox.enterprise_id}/partners/settlements"
    ).json()["settlements"]
    staged = sandbox.client.post(sandbox.stage_path, json=sandbox.sign({
        "externalId": "same-in-every-test",
        "settlementAmounts": {sandbox.connections[0]: {"BTC": "-1000"}},
        "cutoffAt": "2026-11-01T00:00:00.000Z",
    }))
    line = {"test": name, "worker": worker, "url": sandbox.url, "status": staged.status_code,
            "before": [s["externalId"] for s in listed]}
    with open(os.environ["RECORD"], "a") as out:
        out.write(json.dumps(line) + "\\n")

"""


@pytest.fixture(autouse=True)
def _without_heavy_plugins(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """The partner runs here leave out the pytest plugins of schemathesis and hypothesis
    (installed with oeskit): importing them costs ~1 s of CPU in every pytest process, xdist
    workers included, and nothing here uses them. Set once pytester is set up: it clears
    PYTEST_ADDOPTS (before this fixture asked for it, the variable never reached a run)."""
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:schemathesis -p no:hypothesispytest")


def _records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


FRESH = RECORDING + "".join(
    f"def test_{n}(oeskit_sandbox):\n    record(oeskit_sandbox, '{n}')\n" for n in "abc"
)
BAD_MARKER = """
import pytest

@pytest.mark.oeskit_world("nope")
def test_bad(oeskit_sandbox):
    pass

def test_good(oeskit_sandbox):
    pass
"""
ARM = """
import pytest
from oeskit.testing.sandbox import SandboxError

def test_arm(oeskit_sandbox):
    sandbox = oeskit_sandbox
    (fault,) = sandbox.arm("busy", external_id="wanted", retry_after_seconds=2)
    assert fault["externalId"] == "wanted" and fault["retryAfterSeconds"] == 2
    body = sandbox.sign({"externalId": "wanted", "cutoffAt": "2026-11-01T00:00:00.000Z",
                         "settlementAmounts": {sandbox.connections[0]: {"BTC": "-1000"}}})
    assert sandbox.client.post(sandbox.stage_path, json=body).status_code == 503
    assert sandbox.client.post(sandbox.stage_path, json=body).status_code == 200
    with pytest.raises(SandboxError, match="kind 'latency' takes no externalId"):
        sandbox.arm("latency", milliseconds=5, external_id="x")
"""


@dataclass(frozen=True)
class PartnerRun:
    """One partner pytest run (default options) of several test files, read per file: each
    test case's outcome and message from the run's JUnit XML, and what the recording file
    wrote."""

    cases: dict[str, dict[str, tuple[str, str]]]  # file -> test -> (outcome, message + text)
    output: str
    record: Path

    def outcomes(self, file: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for outcome, _ in self.cases.get(file, {}).values():
            counts[outcome] = counts.get(outcome, 0) + 1
        return counts


@pytest.fixture(scope="module")
def partner_run(tmp_path_factory: pytest.TempPathFactory) -> PartnerRun:
    """The partner files that need no option of their own, run by ONE `pytest` process (so one
    sandbox server, which every test of every file shares as a partner's session would): one
    process and one server start instead of four. Run as pytester's runpytest_subprocess
    does: a folder of its own, this interpreter, the outer run's options and xdist variables
    left out."""
    folder = tmp_path_factory.mktemp("partner")
    files = {"test_partner": EXAMPLE.read_text(), "test_fresh": FRESH,
             "test_marker": BAD_MARKER, "test_arm": ARM}  # fmt: skip
    for name, text in files.items():
        (folder / f"{name}.py").write_text(text)
    record = folder / "records.jsonl"
    junit = folder / "junit.xml"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "RECORD"))}
    env.update(RECORD=str(record), PYTEST_ADDOPTS="-p no:schemathesis -p no:hypothesispytest")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", f"--junitxml={junit}",
         f"--basetemp={folder / 'basetemp'}", *(f"{name}.py" for name in files)],
        cwd=folder, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert junit.is_file(), output[-4000:]
    cases: dict[str, dict[str, tuple[str, str]]] = {name: {} for name in files}
    for case in ET.parse(junit).getroot().iter("testcase"):  # noqa: S314 - our own run's file
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("error", "failure", "skipped"):
                outcome = {"error": "errors", "failure": "failed"}.get(child.tag, child.tag)
                message = f"{child.get('message', '')}\n{child.text or ''}"
                break
        cases[case.get("classname", "")][case.get("name", "")] = (outcome, message)
    return PartnerRun(cases, output, record)


@pytest.mark.slow  # reads the shared partner run (a pytest and a sandbox server)
@pytest.mark.xdist_group("partner-run")  # one worker makes that run, once
def test_the_readme_partner_file_passes(partner_run: PartnerRun) -> None:
    """examples/test_partner_example.py (the README's file) passes as a partner runs it: a
    signed settlement staged and replayed, the clock moved to completion, a fault armed, a
    marker world — with nothing but the installed package."""
    assert partner_run.outcomes("test_partner") == {"passed": 4}, partner_run.output[-4000:]


@pytest.mark.slow  # reads the shared partner run (a pytest and a sandbox server)
@pytest.mark.xdist_group("partner-run")  # one worker makes that run, once
def test_each_test_starts_from_the_world_on_one_server(partner_run: PartnerRun) -> None:
    """Three tests stage the same externalId: each gets 200 on a state that holds only the
    world's history (after the run's other files staged and armed there too), all on one
    server process (one URL)."""
    assert partner_run.outcomes("test_fresh") == {"passed": 3}, partner_run.output[-4000:]
    lines = _records(partner_run.record)
    assert [line["test"] for line in lines] == ["a", "b", "c"]
    assert [line["status"] for line in lines] == [200, 200, 200]
    assert {json.dumps(line["before"]) for line in lines} == {json.dumps(["demo-2026-11-20"])}
    assert len({line["url"] for line in lines}) == 1


@pytest.mark.slow  # starts a pytest and a sandbox server
def test_under_xdist_each_worker_has_its_own_server(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With `-n 2` both workers run tests, each against a server of its own, and every test
    still starts from the world."""
    record = tmp_path / "records.jsonl"
    monkeypatch.setenv("RECORD", str(record))
    tests = "".join(
        f"def test_{n}(oeskit_sandbox):\n    record(oeskit_sandbox, '{n}')\n" for n in range(8)
    )
    pytester.makepyfile(test_workers=RECORDING + tests)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2")
    result.assert_outcomes(passed=8)
    lines = _records(record)
    urls: dict[str, set[object]] = {str(line["worker"]): set() for line in lines}
    for line in lines:
        urls[str(line["worker"])].add(line["url"])
    assert sorted(urls) == ["gw0", "gw1"]
    assert all(len(u) == 1 for u in urls.values())
    assert urls["gw0"] != urls["gw1"]
    assert {line["status"] for line in lines} == {200}


@pytest.mark.slow  # starts a pytest and a sandbox server
def test_world_option_and_marker(pytester: pytest.Pytester) -> None:
    """`--oeskit-world minimal` sets the run's world; a marker (a name or a file path) wins for
    its test."""
    world_file = ROOT / "fixtures" / "worlds" / "demo.yaml"
    pytester.makepyfile(
        test_worlds=f"""
import pytest

def test_run_world(oeskit_sandbox):
    assert oeskit_sandbox.enterprise_id == "ent-minimal"

@pytest.mark.oeskit_world({str(world_file)!r})
def test_marker_path(oeskit_sandbox):
    assert oeskit_sandbox.enterprise_id == "ent-exchange"

def test_back_to_run_world(oeskit_sandbox):
    assert oeskit_sandbox.client.get(
        "/api/network/v1/enterprises/ent-minimal/partners/settlements"
    ).status_code == 200
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--oeskit-world", "minimal")
    result.assert_outcomes(passed=3)


def test_unknown_world_option_is_a_usage_error_listing_names(pytester: pytest.Pytester) -> None:
    """`--oeskit-world nope` stops the run before any test, naming the packaged worlds."""
    pytester.makepyfile(test_x="def test_x(oeskit_sandbox):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--oeskit-world", "nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--oeskit-world: no packaged world 'nope'*demo, minimal*"])


@pytest.mark.slow  # reads the shared partner run (a pytest and a sandbox server)
@pytest.mark.xdist_group("partner-run")  # one worker makes that run, once
def test_unknown_marker_world_fails_that_test_clearly(partner_run: PartnerRun) -> None:
    """A marker naming no world errors its test with the packaged names, and only that test."""
    assert partner_run.outcomes("test_marker") == {"passed": 1, "errors": 1}
    outcome, message = partner_run.cases["test_marker"]["test_bad"]
    assert outcome == "errors"
    assert fnmatch.fnmatch(
        message, "*oeskit_world('nope'): no packaged world 'nope'*demo, minimal*"
    ), message
    assert partner_run.cases["test_marker"]["test_good"] == ("passed", "")


def test_unwritable_folder_says_where_it_needs_to_write(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    """When the server's folder cannot be written, the error names it and how to change it."""
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where a folder should be")
    pytester.makepyfile(test_x="def test_x(oeskit_sandbox):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--oeskit-dir", str(blocked))
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [f"*oeskit_sandbox needs to write its database and server log under {blocked}*"]
    )
    result.stdout.fnmatch_lines(["*--oeskit-dir*"])


def test_a_run_that_does_not_use_the_fixture_starts_no_server(pytester: pytest.Pytester) -> None:
    """The plugin is loaded by every pytest run; without the fixture it starts nothing."""
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--setup-show")
    result.assert_outcomes(passed=1)
    assert "_oeskit_server" not in result.stdout.str()
    assert not list(pytester.path.rglob("oeskit-sandbox-*"))


@pytest.mark.slow  # starts a pytest with two workers against one sandbox server
def test_with_oeskit_url_each_worker_takes_a_namespace_of_one_shared_server(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--oeskit-url` starts no server: each xdist worker works in a namespace of its own on
    the given one, every test still starts from the world, the server's default namespace is
    untouched, and the namespaces are deleted when the sessions end."""
    server = start_server(tmp_path)
    try:
        before = httpx.get(server.base_url + SETTLEMENTS, headers=TOKEN).json()
        record = tmp_path / "records.jsonl"
        monkeypatch.setenv("RECORD", str(record))
        tests = "".join(
            f"def test_{n}(oeskit_sandbox):\n    record(oeskit_sandbox, '{n}')\n" for n in range(8)
        )
        pytester.makepyfile(test_shared=RECORDING + tests)
        result = pytester.runpytest_subprocess(
            "-p", "no:cacheprovider", "-n", "2", "--oeskit-url", server.base_url,
            "--oeskit-admin-token", ADMIN,
        )  # fmt: skip
        result.assert_outcomes(passed=8)
        lines = _records(record)
        urls: dict[str, set[str]] = {}
        for line in lines:
            urls.setdefault(str(line["worker"]), set()).add(str(line["url"]))
        assert sorted(urls) == ["gw0", "gw1"]
        for worker, seen in urls.items():
            (url,) = seen
            assert url.startswith(f"{server.base_url}/ns/pytest-{worker}-")
        assert {line["status"] for line in lines} == {200}
        assert {json.dumps(line["before"]) for line in lines} == {json.dumps(["demo-2026-11-20"])}
        after = httpx.get(server.base_url + SETTLEMENTS, headers=TOKEN).json()
        assert after == before
        listed = httpx.get(
            server.base_url + "/sandbox/namespaces", headers={"Authorization": f"Bearer {ADMIN}"}
        )
        assert listed.json()["namespaces"] == []
    finally:
        stop_server(server)


def test_oeskit_url_without_an_admin_token_is_a_usage_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OESKIT_ADMIN_TOKEN", raising=False)
    pytester.makepyfile(test_x="def test_x(oeskit_sandbox):\n    pass\n")
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--oeskit-url", "http://127.0.0.1:9"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--oeskit-url needs the server's admin token*"])


@pytest.mark.slow  # reads the shared partner run (a pytest and a sandbox server)
@pytest.mark.xdist_group("partner-run")  # one worker makes that run, once
def test_arm_takes_external_id_for_busy_and_names_a_wrong_option(
    partner_run: PartnerRun,
) -> None:
    """`arm("busy", external_id=...)` arms a fault for that staging only; an option the fault
    does not take raises SandboxError naming the kind and the option."""
    assert partner_run.outcomes("test_arm") == {"passed": 1}, partner_run.output[-4000:]
