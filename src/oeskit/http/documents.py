"""The contract files served as written: `/openapi.yaml` is the file's bytes, `/openapi.json`
the same document as JSON (`$ref`s, `servers` and all); the control plane's `sandbox.yaml` is
served the same way under `/sandbox/` when the control plane is on.

connexion would serve its own resolved copy instead (every `$ref` inlined, `servers: /`
rewritten to ""), which is not the contract partners are told to read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from oeskit import spec
from oeskit.http.errors import ErrorMapper

YAML_TYPE = b"application/yaml"
JSON_TYPE = b"application/json"
METHODS = ("GET", "HEAD")


@dataclass(frozen=True, slots=True)
class Document:
    content_type: bytes
    body: bytes


def documents(path: Path, prefix: str = "") -> dict[str, Document]:
    """`prefix`/openapi.yaml and .json for one spec file, read once at start-up."""
    raw = path.read_bytes()
    # The shared parse (`spec.load`, already made for the rules catalogues): parsing the YAML
    # again cost ~40 ms a file at start-up. YAML allows keys JSON does not (`200:` is an int);
    # keep them as text, like a linter would.
    as_json = orjson.dumps(spec.load(path), option=orjson.OPT_NON_STR_KEYS)
    return {
        f"{prefix}/openapi.yaml": Document(YAML_TYPE, raw),
        f"{prefix}/openapi.json": Document(JSON_TYPE, as_json),
    }


class Documents:
    """Answers GET/HEAD of the spec files; 405 with `Allow` for other methods."""

    def __init__(self, app: ASGIApp, errors: ErrorMapper, *, control_plane: bool) -> None:
        self.app = app
        self.errors = errors
        self.files = documents(spec.contract_path())
        if control_plane:
            self.files.update(documents(spec.sandbox_path(), "/sandbox"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        document = self.files.get(scope.get("path", "")) if scope["type"] == "http" else None
        if document is None:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method in METHODS:
            status, content_type, body = 200, document.content_type, document.body
            headers = []
        else:
            response = self.errors.method_response(method, ", ".join(METHODS))
            status, content_type, body = response.status_code, JSON_TYPE, bytes(response.body)
            headers = [(k.lower().encode(), v.encode()) for k, v in response.headers.items()]
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", str(len(body)).encode()),
                    *headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})
