"""The sandbox's pages for people: the landing page at `/` and the docs site at `/docs/`.

An ASGI layer in front of the API: GET and HEAD of those paths are answered here, everything
else goes on unchanged. The site is rendered from the contract on its first request (start-up
time is a benchmark target) and kept in memory; nothing is fetched from elsewhere.
"""

from __future__ import annotations

import asyncio
import mimetypes

from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send


class Pages:
    def __init__(self, app: ASGIApp, *, control_plane: bool) -> None:
        self.app = app
        self.control_plane = control_plane
        self._site: dict[str, bytes] | None = None
        self._landing: bytes | None = None
        self._lock = asyncio.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if scope.get("method") not in ("GET", "HEAD") or not (
            path == "/" or path == "/docs" or path.startswith("/docs/")
        ):
            await self.app(scope, receive, send)
            return
        if path == "/docs":
            # Relative, so under /ns/{name}/ it stays in that namespace.
            await RedirectResponse("docs/")(scope, receive, send)
            return
        if path == "/":
            if self._landing is None:
                from oeskit.publish import website  # Jinja2 and markdown: not at start-up

                self._landing = await asyncio.to_thread(website.landing, self.control_plane)
            await _page(self._landing, "index.html")(scope, receive, send)
            return
        site = await self._files()
        name = path.removeprefix("/docs/") or "index.html"
        if name not in site:
            await self.app(scope, receive, send)  # the API's own 404, with its rule id
            return
        await _page(site[name], name)(scope, receive, send)

    async def _files(self) -> dict[str, bytes]:
        async with self._lock:  # render once even when the first requests arrive together
            if self._site is None:
                from oeskit.publish import website

                self._site = await asyncio.to_thread(website.render)
            return self._site


def _page(body: bytes, name: str) -> Response:
    media = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return Response(body, media_type=media, headers={"Cache-Control": "no-cache"})
