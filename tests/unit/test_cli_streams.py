"""Every `oeskit` command writes its result to stdout and only diagnostics to stderr, so
`oeskit <command> > log` keeps what the command found (verdicts, summaries, report paths,
the serve banner). One test per command; a command added to the CLI without one fails here."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from oeskit.cli import _COMMANDS, main
from oeskit.testing.server import HOST, free_port, start_partner
from tests.conftest import ADMIN, DEMO, EXCHANGE, LiveServer, start_server, stop_server

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_CLIENT = ROOT / "examples" / "partner_client.py"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp("streams"))
    yield live
    stop_server(live)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_serve_banner_is_on_stdout(tmp_path: Path) -> None:
    """`oeskit serve > log`: the banner (URL, admin token, the demo partner's curl) is in the
    log; uvicorn's own lines are diagnostics on stderr."""
    port = free_port()
    out, err = tmp_path / "out.log", tmp_path / "err.log"
    command = [
        sys.executable, "-m", "oeskit", "serve", "--host", HOST, "--port", str(port),
        "--db", str(tmp_path / "s.db"), "--world", "demo", "--admin-token", ADMIN,
    ]  # fmt: skip
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            command,
            stdout=stdout,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + 60
        while "curl" not in out.read_text() and time.monotonic() < deadline:
            assert process.poll() is None, err.read_text()
            time.sleep(0.05)
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert f"oeskit sandbox on http://{HOST}:{port}" in out.read_text()
    assert f"admin token: {ADMIN}" in out.read_text()
    assert "oeskit sandbox on" not in err.read_text()


def test_conform_results_are_on_stdout(server: LiveServer, tmp_path: Path) -> None:
    """The rules table, the summary line and the report paths are on stdout."""
    result = invoke(
        "conform", "--target", server.base_url, "--sandbox-token", ADMIN,
        "--scenario", "auth-missing-token", "--report-dir", str(tmp_path),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "1 passed, 0 failed, 0 warnings, 0 skipped" in result.stdout
    assert f"reports: {tmp_path / 'report.json'}" in result.stdout
    assert "OES-AUTH-001" in result.stdout
    assert "passed" not in result.stderr


def test_client_test_results_are_on_stdout(server: LiveServer, tmp_path: Path) -> None:
    """Each plan's verdict, the summary and the report paths are on stdout."""
    result = invoke(
        "client-test", "--target", server.base_url, "--sandbox-token", ADMIN,
        "--plan", "stage", "--report-dir", str(tmp_path),
        "--", sys.executable, str(EXAMPLE_CLIENT),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "PASSED  stage" in result.stdout
    assert "1 passed, 0 failed, 0 skipped" in result.stdout
    assert f"reports: {tmp_path / 'report.json'}" in result.stdout
    assert result.stderr == ""


def test_doctor_verdict_is_on_stdout(tmp_path: Path) -> None:
    """`ok: ...` for a sound database, on stdout."""
    db = tmp_path / "w.db"
    assert invoke("world", "load", "demo", "--db", str(db)).exit_code == 0
    result = invoke("doctor", "--db", str(db))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ok: ")
    assert result.stderr == ""


def test_doctor_violations_and_their_count_are_on_stdout(tmp_path: Path) -> None:
    """A broken database: each violation and the count line are results, on stdout (exit 1)."""
    import sqlite3

    db = tmp_path / "w.db"
    assert invoke("world", "load", "demo", "--db", str(db)).exit_code == 0
    with sqlite3.connect(db) as conn:
        # A hold on a connection that owes nothing pending: holds_match_balances breaks.
        conn.execute("UPDATE balances SET held = '1' WHERE currency = 'ofcusdc'")
    result = invoke("doctor", "--db", str(db))
    assert result.exit_code == 1
    assert "violation(s) in" in result.stdout
    assert result.stderr == ""


def test_world_results_are_on_stdout(tmp_path: Path) -> None:
    """`world check` and `world load` say what they found and did on stdout."""
    checked = invoke("world", "check", "demo")
    assert checked.exit_code == 0 and "valid (" in checked.stdout and checked.stderr == ""
    loaded = invoke("world", "load", "minimal", "--db", str(tmp_path / "m.db"))
    assert loaded.exit_code == 0 and "loaded " in loaded.stdout and loaded.stderr == ""


def test_sign_body_is_on_stdout(tmp_path: Path) -> None:
    """The signed body is the only thing on stdout (JSON a script can read)."""
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"externalId": "x-1", "settlementAmounts": {}}))
    result = invoke("sign", "--world", str(DEMO), "--partner", EXCHANGE, str(request))
    assert result.exit_code == 0, result.output
    assert {"payload", "signature"} <= set(json.loads(result.stdout))


def test_keys_are_on_stdout() -> None:
    """The key pair is on stdout; the test-keys-only note is a diagnostic on stderr."""
    result = invoke("keys", "generate", "--json")
    assert result.exit_code == 0
    assert set(json.loads(result.stdout)) >= {"publicKey", "privateKey"}
    assert "test worlds only" in result.stderr


def test_lint_findings_are_on_stdout() -> None:
    """The findings and the count line of `oeskit lint` are on stdout."""
    result = invoke("lint", str(ROOT / "openapi.yaml"))
    assert "1 document(s):" in result.stdout
    assert result.stderr == ""


def test_diff_is_on_stdout() -> None:
    """`oeskit diff A A` says it found no change, on stdout."""
    contract = str(ROOT / "openapi.yaml")
    result = invoke("diff", contract, contract)
    assert result.exit_code == 0, result.output
    assert "0 breaking" in result.stdout
    assert result.stderr == ""


def test_docs_build_is_on_stdout(tmp_path: Path) -> None:
    """`oeskit docs build` says where it wrote the site, on stdout."""
    result = invoke("docs", "build", "--out", str(tmp_path / "site"))
    assert result.exit_code == 0, result.output
    assert "files written to" in result.stdout
    assert result.stderr == ""


def test_hosted_test_results_are_on_stdout(tmp_path: Path) -> None:
    """`oeskit hosted-test`: each scenario's verdict, the summary and the report paths are on
    stdout; `oeskit partner accounts` prints the tokens it made there too."""
    assert invoke("keys", "bitgo", "--out-dir", str(tmp_path / "keys")).exit_code == 0
    partner, profile = start_partner(tmp_path, tmp_path / "keys" / "bitgo-public.pem")
    try:
        result = invoke(
            "hosted-test", "--target", partner.base_url,
            "--bitgo-key", str(tmp_path / "keys" / "bitgo-private.pem"),
            "--profile", str(profile), "--scenario", "signature-missing",
            "--report-dir", str(tmp_path / "reports"),
        )  # fmt: skip
    finally:
        partner.stop()
    assert result.exit_code == 0, result.output
    assert "PASSED  signature-missing" in result.stdout  # with the scenarios it relies on
    assert re.search(r"^\d+ passed, 0 failed", result.stdout, re.M), result.stdout
    assert f"reports: {tmp_path / 'reports' / 'report.json'}" in result.stdout
    assert result.stderr == ""
    accounts = invoke("partner", "accounts", "--db", str(tmp_path / f"{partner.name}.db"))
    assert accounts.exit_code == 0, accounts.output
    assert accounts.stdout.strip() and accounts.stderr == ""


def test_usage_errors_are_on_stderr() -> None:
    """A usage error is a diagnostic: stderr, exit 2, nothing on stdout."""
    result = CliRunner().invoke(main, ["world", "check", "nope"])
    assert result.exit_code == 2
    assert "no packaged world 'nope'" in result.stderr
    assert result.stdout == ""


def test_every_command_has_a_stream_test() -> None:
    """The commands covered above are every command the CLI has: a new one needs a test here."""
    covered = {
        "serve", "conform", "client-test", "doctor", "world", "sign", "keys", "lint", "diff",
        "docs", "hosted-test", "partner",
    }  # fmt: skip
    assert set(_COMMANDS) == covered


def test_conform_failed_lines_reach_redirected_stdout_under_a_terminal_stderr(
    tmp_path: Path,
) -> None:
    """`oeskit conform ... > log` on a terminal: the progress bar draws on the terminal (stderr)
    and a FAILED line printed while it runs still goes to the log, not through the bar."""
    import os
    import pty

    port = free_port()
    target = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", HOST, "-d", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    master, terminal = pty.openpty()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # wait for the plain server to listen
            with socket.socket() as probe:
                if probe.connect_ex((HOST, port)) == 0:
                    break
            time.sleep(0.05)
        done = subprocess.run(
            [sys.executable, "-m", "oeskit", "conform", "--target", f"http://{HOST}:{port}",
             "--sandbox-token", "x", "--scenario", "auth-missing-token", "--no-fuzz",
             "--report-dir", str(tmp_path / "reports")],
            stdout=subprocess.PIPE, stderr=terminal, text=True, timeout=120, check=False,
        )  # fmt: skip
    finally:
        os.close(terminal)
        os.close(master)
        target.terminate()
        target.wait(timeout=10)
    assert done.returncode == 1
    assert "FAILED auth-missing-token" in done.stdout
    assert "0 passed, 1 failed" in done.stdout
