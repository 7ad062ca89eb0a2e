"""Storage faults against a real `oeskit serve`: its database deleted while it runs, a database
it cannot write (a warning at start, then 503), and a real full disk (a small tmpfs, where this
machine lets the test mount one)."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from oeskit.http.app import open_store
from tests.conftest import ADMIN, ALPHA, LiveServer, make_settings, start_server, stop_server
from tests.reliability.support import PARTNER_HEADERS, STAGE_URL, server_log, signed_body

ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}"}


def _stage(server: LiveServer, external_id: str) -> httpx.Response:
    return httpx.post(
        server.base_url + STAGE_URL,
        json=signed_body(external_id, {ALPHA: {"BTC": "-1"}}),
        headers=PARTNER_HEADERS,
        timeout=30,
    )


def test_a_database_deleted_under_serve_is_503_and_logged(tmp_path: Path) -> None:
    """`rm` of the database files of a running server: the next staging is 503 OES-SRV-004
    (it was 200, and lost at the restart) and the server's log says what happened."""
    server = start_server(tmp_path)
    try:
        assert _stage(server, "before-rm").status_code == 200
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(str(server.db) + suffix)
        refused = _stage(server, "after-rm")
        assert refused.status_code == 503, refused.text
        assert refused.json()["rule"] == "OES-SRV-004"
        assert "deleted or replaced" in server_log(server)
    finally:
        stop_server(server)


@contextlib.contextmanager
def _unwritable(db: Path) -> Iterator[None]:
    """Make `db` a file this process cannot write: read-only permissions, or for root (whom
    permissions do not stop) the immutable attribute."""
    if os.geteuid() != 0:
        db.chmod(0o444)
        try:
            yield
        finally:
            db.chmod(0o644)
        return
    made = subprocess.run(["chattr", "+i", str(db)], capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"cannot make a file immutable here: {made.stderr.decode()[:200]}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(db)], check=False)


def test_serve_warns_at_start_and_answers_503_when_the_database_is_read_only(
    tmp_path: Path,
) -> None:
    """A database file the server cannot write: `serve` starts, warns on stderr that writes
    will be 503, reads answer, and a staging is 503 OES-SRV-003 saying read-only."""
    db = tmp_path / "ro.db"
    open_store(make_settings(tmp_path, db=str(db))).close()  # the demo world, then closed
    with _unwritable(db):
        server = start_server(tmp_path, db=db)
        try:
            log = server_log(server)
            assert "warning: the database" in log and "cannot be written" in log, log
            assert "read-only" in log
            refused = _stage(server, "read-only")
            assert refused.status_code == 503, refused.text
            assert refused.json()["rule"] == "OES-SRV-003"
            assert "read-only" in refused.json()["error"]
            assert "Retry-After" in refused.headers
            clock = httpx.get(server.base_url + "/sandbox/clock", headers=ADMIN_HEADERS)
            assert clock.status_code == 200
        finally:
            stop_server(server)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs: a disk that really fills up. Skipped where mounting is not allowed."""
    where = tmp_path / "disk"
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode()[:200]}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def test_a_full_disk_is_503_with_retry_after_then_the_retry_stages(
    tmp_path: Path, small_disk: Path
) -> None:
    """On a disk that is really full: `serve` warned at start that space is short; a staging is
    503 OES-SRV-003 saying storage is full, with Retry-After, never a 500; a new namespace is
    503 and leaves no file that would count toward the limit; once space is freed the same
    request stages."""
    db = small_disk / "full.db"
    server = start_server(tmp_path, db=db)
    try:
        assert "free on the disk holding" in server_log(server)
        assert _stage(server, "before-full").status_code == 200
        filler = _fill(small_disk)
        refused = None
        for n in range(2000):
            answer = _stage(server, f"full-{n}")
            assert answer.status_code in (200, 503), answer.text
            if answer.status_code == 503:
                refused = answer
                break
        assert refused is not None, "the disk never filled"
        assert refused.json()["rule"] == "OES-SRV-003"
        assert "storage is full" in refused.json()["error"]
        assert int(refused.headers["Retry-After"]) >= 1
        namespace = httpx.get(
            server.base_url + "/ns/on-full-disk/sandbox/clock", headers=ADMIN_HEADERS, timeout=30
        )
        assert namespace.status_code == 503, namespace.text
        assert namespace.json()["rule"] == "OES-SRV-003"
        folder = Path(str(db) + ".namespaces")
        assert not list(folder.glob("*.db")), list(folder.iterdir())
        filler.unlink()
        retried = _stage(server, f"full-{n}")
        assert retried.status_code == 200, retried.text
    finally:
        stop_server(server)
