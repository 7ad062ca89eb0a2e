"""The fast lane: the v2 staging POST served without connexion's middleware stack.

connexion costs about 1 ms a request on this route (routing, security, validation and the
parameter decorator, each re-reading the operation); partners' CI runs and the benchmarks of
issue 4 need it gone. The lane handles only requests it fully understands — POST to the v2
path, no query string, a JSON content type, a non-empty body and a known bearer token — and
hands every other request, including each one that should get a 401 or 415, to connexion. It
validates with the same schema, compiled from openapi.yaml, and calls the same handler code, so
the two paths give the same answers (tests/api/test_fastlane.py compares them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from oeskit import schemas, spec
from oeskit.errors import RuleViolation, StoreUnavailable
from oeskit.http.asgi import send_json
from oeskit.http.handlers import PartnerRoutes
from oeskit.http.services import UsesServices
from oeskit.http.validation import check_body, parse_json

OPERATION = "v2PartnerSettlementsPostRoute"
RAW_BODY = "oeskit.raw_body"  # the Guard leaves the buffered body here


class FastLane(UsesServices):
    def __init__(self, app: ASGIApp, routes: PartnerRoutes, *, validate_responses: bool) -> None:
        self.app = app
        self.routes = routes
        document = spec.contract()
        path, _, operation = spec.operation(document, OPERATION)
        pattern = re.escape(path).replace(re.escape("{enterpriseId}"), "(?P<enterprise>[^/]+)")
        self.path = re.compile(pattern + "$")
        media = operation["requestBody"]["content"]["application/json"]
        self.request_schema = schemas.compile(document, media["schema"], direction="request")
        ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
        self.response_schema = schemas.compile(document, ok) if validate_responses else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["query_string"]:
            await self.app(scope, receive, send)
            return
        match = self.path.match(scope["path"])
        raw = scope.get("extensions", {}).get(RAW_BODY)
        caller = self._caller(scope) if match and raw else None
        if caller is None or match is None:
            await self.app(scope, receive, send)
            return
        status, body, headers = await self._handle(scope, match.group("enterprise"), raw, caller)
        await send_json(send, status, body, headers)

    def _caller(self, scope: Scope) -> Any:
        headers = dict(scope["headers"])
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if content_type != b"application/json":
            return None
        kind, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        if kind.lower() != "bearer" or not token.strip():
            return None
        return self.s.store.caller(token.strip())

    async def _handle(
        self, scope: Scope, enterprise_id: str, raw: bytes, caller: Any
    ) -> tuple[int, bytes, Mapping[str, str]]:
        mapper = self.s.errors
        try:
            body = parse_json(raw)
            check_body(self.request_schema, body)
            result = await self.routes.stage(enterprise_id, body, caller)
            if self.response_schema is not None and not self.response_schema.is_valid(result):
                error = self.response_schema.problems(result, limit=1)[0]
                raise AssertionError(
                    f"response does not conform to the contract: {error.where}: {error.message}"
                )
            return 200, orjson.dumps(result), {}
        except RuleViolation as exc:
            response = mapper.response(exc.rule, exc.message, exc.extra)
        except StoreUnavailable as exc:
            response = mapper.unavailable(exc)
        except Exception as exc:
            response = mapper.internal_for(scope, exc)  # logged there, under the request id
        return response.status_code, bytes(response.body), response.headers or {}
