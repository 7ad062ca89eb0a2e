"""An ASGI app served by uvicorn on a thread of the test process, on a free loopback port: for
test doubles (partners, defect-injected sandboxes) that a black-box client must reach over
real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from oeskit.testing.server import HOST, free_port

_POLL_S = 0.005
_GRACE_S = 10.0


class _Server(uvicorn.Server):
    """uvicorn's server, stopped as soon as it is asked: uvicorn checks `should_exit` every
    0.1 s and then sleeps 0.1 s more before closing, ~0.15 s per test double for nothing."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def stop(self) -> None:
        self.should_exit = True
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        counter = 0
        while not await self.on_tick(counter):  # on_tick also keeps the Date header current
            counter += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.1)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        deadline = time.monotonic() + _GRACE_S
        while self.server_state.connections or self.server_state.tasks:
            if time.monotonic() > deadline:
                for task in self.server_state.tasks:
                    task.cancel()
                break
            await asyncio.sleep(_POLL_S)
        for server in self.servers:
            await server.wait_closed()
        await self.lifespan.shutdown()


@contextmanager
def serve(app: Any, *, lifespan: str = "auto") -> Iterator[str]:
    """`app` on a free loopback port until the block ends; yields its base URL."""
    port = free_port()
    server = _Server(
        uvicorn.Config(app, host=HOST, port=port, log_level="warning", lifespan=lifespan)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.005)
    assert server.started, "the app did not start within 20 s"
    try:
        yield f"http://{HOST}:{port}"
    finally:
        server.stop()
        thread.join(timeout=10)
