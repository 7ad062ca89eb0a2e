"""`start_serve` survives a port taken between its check and the server's bind (tests side by
side under pytest-xdist, or any process's outgoing connection): it starts the server again on
another free port instead of failing the test."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from oeskit.testing import server as server_module
from oeskit.testing.server import HOST, start_serve


def test_a_taken_port_is_retried_on_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first port offered is already listened on: the server ends up on the second."""
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        busy_port = taken.getsockname()[1]
        offered = iter([busy_port, server_module.free_port()])
        monkeypatch.setattr(server_module, "free_port", lambda: next(offered))
        server = start_serve(tmp_path, tmp_path / "s.db", admin="a", timeout=60)
        try:
            assert not server.base_url.endswith(f":{busy_port}")
            assert server.process.poll() is None
        finally:
            server.stop()
