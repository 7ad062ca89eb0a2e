"""Stand-ins for a generic mock server in tests: a canned-answer server (what Prism's static
mode does: each operation answers its 200 example, whatever was sent) and real Prism when it
is installed. Neither knows any business rule, so no scenario that stages or signs may pass
against them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from oeskit import spec
from oeskit.conformance.scenario import Scenario
from oeskit.testing.server import HOST, free_port

# Where bench/ and .ci/run install Prism (`npm install --prefix <this> @stoplight/prism-cli`).
PRISM_PREFIX = Path.home() / ".cache" / "oeskit-bench" / "prism"


def stages_or_signs(scenario: Scenario) -> bool:
    """Whether a scenario signs a request, stages a settlement, or expects a payload to sign
    (a scenario that only sends the signing route a malformed query is about parameters)."""
    for step in scenario.steps:
        call = str(step.get("call", ""))
        wanted = (step.get("expect") or {}).get("status", 200)
        if step.get("sign") or "{v2}/settlements" in call:
            return True
        if "settlements-signing" in call and wanted == 200:
            return True
    return False


def _canned_routes() -> list[tuple[str, re.Pattern[str], bytes]]:
    document = spec.contract()
    routes = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict):
                continue
            example = operation["responses"]["200"]
            if "$ref" in example:
                example = document["components"]["responses"][example["$ref"].split("/")[-1]]
            body = example["content"]["application/json"]["example"]
            pattern = re.compile(re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(path)) + "$")
            routes.append((method.upper(), pattern, json.dumps(body).encode()))
    return routes


@contextmanager
def canned_server() -> Iterator[str]:
    """A server on a free loopback port answering each operation's 200 example; its URL."""
    routes = _canned_routes()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            path = self.path.split("?", 1)[0]
            for method, pattern, body in routes:
                if method == self.command and pattern.match(path):
                    self._send(200, body)
                    return
            self._send(404, b'{"error": "no such route"}')

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = _answer

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

    server = ThreadingHTTPServer((HOST, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def prism_binary() -> Path | None:
    """Prism as installed by .ci/run or bench (or on PATH); None when it is not installed."""
    binary = PRISM_PREFIX / "node_modules" / ".bin" / "prism"
    if binary.exists():
        return binary
    found = shutil.which("prism")
    return Path(found) if found else None


@contextmanager
def prism_server(binary: Path, log: Path) -> Iterator[str]:
    """`prism mock openapi.yaml` on a free loopback port; its URL once it answers."""
    port = free_port()
    url = f"http://{HOST}:{port}"
    command = [str(binary), "mock", str(spec.contract_path()), "-p", str(port), "-h", HOST]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(url + "/api/network/v1/enterprises/e/partners/balances", timeout=1)
                    break
                except httpx.HTTPError as exc:
                    if process.poll() is not None or time.monotonic() > deadline:
                        why = f"prism did not start: {log.read_text()[-2000:]}"
                        raise RuntimeError(why) from exc
                    time.sleep(0.2)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
