"""A throwaway PostgreSQL server for tests and benchmarks: `initdb` and `pg_ctl` from the server
binaries (Debian's `postgresql` package) in a temporary directory, on a free loopback port.

PostgreSQL refuses to run as root (CI runs as root): then the server runs as the `postgres`
user, in a directory that user owns. Durability is off (fsync, synchronous_commit): the data
is thrown away with the directory.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg

from oeskit.testing.server import HOST, free_port

DATABASE = "oeskit"
ROLE = "oeskit"
_SEARCH = ("/usr/lib/postgresql",)


class PostgresMissing(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def find_bindir() -> Path | None:
    """The directory holding initdb and pg_ctl: on PATH, or Debian's newest version."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).parent
    versions: list[Path] = []
    for root in map(Path, _SEARCH):
        if root.is_dir():
            versions += [p / "bin" for p in root.iterdir() if (p / "bin" / "initdb").exists()]
    return max(versions, key=lambda p: int(p.parent.name), default=None) if versions else None


@dataclass
class PostgresServer:
    directory: Path
    bindir: Path
    port: int
    user: str | None  # the OS user it runs as when we are root

    def url(self, schema: str | None = None, database: str = DATABASE) -> str:
        query = f"?schema={schema}" if schema else ""
        return f"postgresql://{ROLE}@{HOST}:{self.port}/{database}{query}"

    def _run(self, *argv: str) -> None:
        command = [str(self.bindir / argv[0]), *argv[1:]]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)  # noqa: S603

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self._run("pg_ctl", "-D", str(self.directory / "data"), "-m", "immediate", "stop")
        shutil.rmtree(self.directory, ignore_errors=True)


def start_postgres(*, max_connections: int = 300) -> PostgresServer:
    """initdb a cluster in a fresh temporary directory and start it; the role and database
    `oeskit` exist (trust authentication on loopback)."""
    bindir = find_bindir()
    if bindir is None:
        raise PostgresMissing(
            "no PostgreSQL server binaries (initdb, pg_ctl): install Debian's `postgresql` "
            "package (apt-get install postgresql)"
        )
    directory = Path(tempfile.mkdtemp(prefix="oeskit-pg-"))
    user: str | None = None
    if os.geteuid() == 0:  # PostgreSQL will not run as root
        user = "postgres"
        entry = pwd.getpwnam(user)
        os.chown(directory, entry.pw_uid, entry.pw_gid)
    server = PostgresServer(directory, bindir, free_port(), user)
    data = str(directory / "data")
    try:
        server._run("initdb", "-D", data, "-U", ROLE, "--auth=trust", "-E", "UTF8", "--no-sync")
        options = (
            f"-p {server.port} -k {directory} -c listen_addresses={HOST} -c fsync=off "
            f"-c synchronous_commit=off -c full_page_writes=off "
            f"-c max_connections={max_connections}"
        )
        server._run(
            "pg_ctl", "-D", data, "-o", options, "-l", str(directory / "log"), "-w", "start"
        )
        with psycopg.connect(server.url(database="postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
    except BaseException:
        server.stop()
        raise
    return server
