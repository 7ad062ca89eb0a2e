"""Answering a JSON response straight on the ASGI `send`, for the layers in front of connexion
(namespaces, faults, the fast lane) that answer without a Starlette response object."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import Send


async def send_json(
    send: Send, status: int, body: bytes, headers: Mapping[str, str] | None = None
) -> None:
    """`body` (already JSON) with its status, a true Content-Length and `headers`."""
    encoded = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": encoded})
    await send({"type": "http.response.body", "body": body})
