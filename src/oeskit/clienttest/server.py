"""A sandbox of the run's own, when no --target is given: `oeskit serve` on a free loopback port
and a fresh database in a temporary folder, stopped at the end. Started through the project's one
server helper (`oeskit.testing.server`), as the tests, bench and the pytest plugin do."""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from oeskit.testing.server import start_serve


@dataclass(frozen=True, slots=True)
class OwnSandbox:
    base_url: str
    admin_token: str


@contextmanager
def own_sandbox(timeout_s: float = 60.0) -> Iterator[OwnSandbox]:
    """The plans add their own partner world beside the demo world the server starts with."""
    admin = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="oeskit-client-test-") as workdir:
        server = start_serve(
            Path(workdir), Path(workdir) / "sandbox.db", admin=admin, timeout=timeout_s
        )
        try:
            yield OwnSandbox(server.base_url, admin)
        finally:
            server.stop()
