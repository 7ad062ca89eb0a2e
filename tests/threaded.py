"""An ASGI app served by uvicorn on a thread of the test process, on a free loopback port: for
test doubles (partners, defect-injected sandboxes) that a black-box client must reach over
real HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from oeskit.testing.server import HOST, free_port


@contextmanager
def serve(app: Any, *, lifespan: str = "auto") -> Iterator[str]:
    """`app` on a free loopback port until the block ends; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host=HOST, port=port, log_level="warning", lifespan=lifespan)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "the app did not start within 20 s"
    try:
        yield f"http://{HOST}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
