"""The client-test suite proves itself: the example client passes every plan, and each client
with a planted mistake fails the plan that exposes it, naming the client rule it broke."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from oeskit import signing
from oeskit.cli import main
from oeskit.clienttest import plans
from oeskit.clienttest.control import Sandbox
from oeskit.clienttest.plans import Plan
from oeskit.clienttest.runner import RunConfig, run_plan
from tests.conftest import ADMIN, LiveServer, start_server, stop_server

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "partner_client.py"
MISTAKEN = Path(__file__).parent / "clients" / "mistaken_client.py"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp("client-test"))
    yield live
    stop_server(live)


def client_test(
    server: LiveServer, report_dir: Path, command: list[str], *options: str
) -> tuple[int, dict[str, Any], str]:
    result = CliRunner().invoke(
        main,
        [
            "client-test",
            "--target",
            server.base_url,
            "--sandbox-token",
            ADMIN,
            "--report-dir",
            str(report_dir),
            *options,
            "--",
            *command,
        ],
    )
    report_path = report_dir / "report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    return result.exit_code, report, result.output


def failed_rules(report: dict[str, Any]) -> set[str]:
    return {f["rule"] for r in report["results"] if r["status"] == "FAILED" for f in r["findings"]}


def test_the_example_client_passes_every_plan(server: LiveServer, tmp_path: Path) -> None:
    """examples/partner_client.py passes all six plans and the command exits 0 (the slow answer
    held 1 s: waiting it out is the client's part, not what is graded)."""
    code, report, output = client_test(
        server, tmp_path, [sys.executable, str(EXAMPLE)], "--slow-seconds", "1"
    )
    assert code == 0, output
    assert [(r["id"], r["status"]) for r in report["results"]] == [
        ("stage", "PASSED"),
        ("busy", "PASSED"),
        ("lost-response", "PASSED"),
        ("slow-response", "PASSED"),
        ("insufficient-balance", "PASSED"),
        ("bitcoin-message", "PASSED"),
    ]
    assert report["summary"] == {"passed": 6, "failed": 0, "warnings": 0, "skipped": 0}
    assert {r["id"] for r in report["rules"]} >= {"OES-CLI-001", "OES-CLI-011"}


# (planted mistake, the plan that exposes it, the client rule that must be FAILED)
MISTAKES = [
    ("new-id-on-retry", "lost-response", "OES-CLI-006"),
    ("new-id-after-timeout", "slow-response", "OES-CLI-006"),
    ("ignore-retry-after", "busy", "OES-CLI-007"),
    ("give-up-on-503", "busy", "OES-CLI-008"),
    ("retry-422-loop", "insufficient-balance", "OES-CLI-009"),
    ("exit-0-after-refusal", "insufficient-balance", "OES-CLI-010"),
    ("ed25519-always", "bitcoin-message", "OES-CLI-001"),
    ("submit-twice", "stage", "OES-CLI-008"),
    ("unsigned-notes", "stage", "OES-CLI-002"),
    ("no-request", "stage", "OES-CLI-011"),
    ("reuse-nonce", "stage", "OES-CLI-003"),
    ("change-on-retry", "lost-response", "OES-CLI-004"),
    ("text-plain", "stage", "OES-CLI-005"),
]


@pytest.mark.parametrize(("mistake", "plan", "rule"), MISTAKES, ids=[m[0] for m in MISTAKES])
def test_a_planted_mistake_fails_its_plan(
    server: LiveServer, tmp_path: Path, mistake: str, plan: str, rule: str
) -> None:
    """The mistaken client FAILS the plan built to expose it, the verdict names the rule, the
    report says what a correct client would have done, and the command exits 1."""
    code, report, output = client_test(
        server,
        tmp_path,
        [sys.executable, str(MISTAKEN), "--mistake", mistake],
        "--plan",
        plan,
        # new-id-after-timeout gives up after 0.5 s: a 1.5 s hold outlives it by a second.
        "--slow-seconds",
        "1.5",
    )
    assert code == 1, output
    (result,) = report["results"]
    assert result["status"] == "FAILED"
    assert rule in result["rules"]
    assert rule in failed_rules(report)
    assert "A correct client would" in result["reason"]
    assert rule in output


def test_the_mistaken_client_without_a_mistake_passes(server: LiveServer, tmp_path: Path) -> None:
    """The planted-mistake client is otherwise correct: with no mistake it passes the plans its
    mistakes are tested on, so each failure above is the mistake's alone."""
    code, report, output = client_test(
        server,
        tmp_path,
        [sys.executable, str(MISTAKEN)],
        *("--plan", "busy", "--plan", "lost-response", "--plan", "insufficient-balance"),
    )
    assert code == 0, output
    assert report["summary"]["passed"] == 3


def test_a_client_outliving_the_timeout_is_killed_and_failed(
    server: LiveServer, tmp_path: Path
) -> None:
    """A client still running at --timeout is killed (with what it started) and FAILED."""
    pid_file = tmp_path / "child.pid"
    script = (
        "import subprocess, sys, time; "
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        f"open({str(pid_file)!r}, 'w').write(str(child.pid)); time.sleep(60)"
    )
    code, report, output = client_test(
        server, tmp_path, [sys.executable, "-c", script], *("--plan", "stage", "--timeout", "2")
    )
    child = int(pid_file.read_text())
    assert (
        not Path(f"/proc/{child}").exists() or "zombie" in Path(f"/proc/{child}/status").read_text()
    )
    assert code == 1, output
    (result,) = report["results"]
    assert result["status"] == "FAILED"
    assert result["rules"] == ["OES-CLI-011"]
    assert "killed" in result["findings"][0]["message"]


def test_a_command_that_does_not_exist_is_a_usage_error(tmp_path: Path) -> None:
    """A COMMAND that cannot be found exits 2 with a clear message, before any sandbox starts."""
    result = CliRunner().invoke(
        main, ["client-test", "--report-dir", str(tmp_path), "--", "no-such-client-xyz"]
    )
    assert result.exit_code == 2
    assert "command not found: 'no-such-client-xyz'" in result.output


def test_reports_never_carry_the_token_or_the_private_key(
    server: LiveServer, tmp_path: Path
) -> None:
    """A FAILED plan's report shows the exchanges with the run's token, private key and
    signatures redacted, in every format."""
    code, report, _ = client_test(
        server,
        tmp_path,
        [sys.executable, str(MISTAKEN), "--mistake", "unsigned-notes"],
        *("--plan", "stage"),
    )
    assert code == 1
    exchange = report["results"][0]["exchanges"][0]
    assert '"signature":"***redacted***"' in exchange["request"]["body"].replace(" ", "")
    for name in ("report.json", "junit.xml", "report.html", "report.md"):
        text = (tmp_path / name).read_text()
        for secret in ("OES_ACCESS_TOKEN", "privateKey"):
            assert secret not in text
    # The writers are conform's, titled for what graded: a client, not a server.
    assert (tmp_path / "report.md").read_text().startswith("## oeskit client-test")
    assert 'name="oeskit client-test"' in (tmp_path / "junit.xml").read_text()


def test_wait_mode_grades_a_client_started_by_hand(server: LiveServer) -> None:
    """--wait mode runs no command: it announces the environment, reports the request count
    while it waits, and grades once the client has gone idle (exit status unknown, not
    graded)."""
    clients: list[subprocess.Popen[bytes]] = []
    counts: list[int] = []

    def by_hand(plan: Plan, env: dict[str, str]) -> None:
        clients.append(subprocess.Popen([sys.executable, str(EXAMPLE)], env={**os.environ, **env}))

    (stage,) = plans.by_name(["stage"])
    sandbox = Sandbox(server.base_url, ADMIN)
    try:
        config = RunConfig(command=(), plans=(stage,), wait=True, idle_s=1.0)
        outcome = run_plan(sandbox, stage, config, announce=by_hand, progress=counts.append)
    finally:
        sandbox.close()
    assert clients[0].wait(timeout=30) == 0
    assert outcome.result.status.value == "PASSED", outcome.result.reason
    assert counts[-1] == 1


def test_a_partner_key_registers_only_its_public_half(server: LiveServer, tmp_path: Path) -> None:
    """With --public-key the run registers the partner's own public key and sets no
    OES_PRIVATE_KEY (the client signs with the key it holds); a plan needing the other scheme
    is SKIPPED, not passed."""
    key = signing.generate(signing.ED25519)
    assert key.private_key is not None
    result = CliRunner(env={"OES_PRIVATE_KEY": key.private_key}).invoke(
        main,
        [
            *("client-test", "--target", server.base_url, "--sandbox-token", ADMIN),
            *("--report-dir", str(tmp_path), "--public-key", f"ed25519:{key.public_key}"),
            *("--plan", "stage", "--plan", "bitcoin-message", "--"),
            *(sys.executable, str(EXAMPLE)),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert [(r["id"], r["status"]) for r in report["results"]] == [
        ("stage", "PASSED"),
        ("bitcoin-message", "SKIPPED"),
    ]
    assert "needs a bitcoin-message key" in report["results"][1]["reason"]
