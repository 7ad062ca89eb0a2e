"""Every error response is `{"error": ..., "rule": ...}`; this module is the one place that
decides its status (from the rules catalogues: a rule id alone decides a status) and turns
connexion's and Starlette's own errors into such a body. Every 500 is logged with its request
id, and the body names that id."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson
from connexion.exceptions import (
    BadRequestProblem,
    ExtraParameterProblem,
    OAuthProblem,
    OAuthResponseProblem,
    OAuthScopeProblem,
    ProblemException,
    UnsupportedMediaTypeProblem,
)
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from starlette.types import Scope

from oeskit.domain import rules
from oeskit.domain.sandbox_rules import SBX_ADMIN, SBX_INVALID
from oeskit.errors import RuleViolation, StoreBusy, StoreGone, StoreUnavailable

log = logging.getLogger("oeskit")
MAX_MESSAGE = 500  # never echo a whole 2 MB body back in an error message
SANDBOX_PREFIX = "/sandbox"
REQUEST_ID = "oeskit.request_id"  # the Guard writes each request's id here, in scope extensions
_VERBS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
STORAGE_RETRY_AFTER_S = "30"  # freeing disk space takes a person, not a moment

# The rules a framework's own error (a status without a rule) can stand for. Their statuses
# come from the catalogue like every other rule's; an error whose status none of them has is
# answered with the request-shape rule (a 4xx stays a 4xx) or as an internal error (a 5xx).
_FRAMEWORK_RULES = (
    rules.REQ_SCHEMA,
    rules.AUTH_TOKEN,
    rules.AUTH_SCOPE,
    rules.REQ_NOT_FOUND,
    rules.REQ_METHOD,
    rules.REQ_TIMEOUT,
    rules.REQ_TOO_LARGE,
    rules.REQ_MEDIA_TYPE,
)
_SANDBOX_RULES = (SBX_INVALID, SBX_ADMIN)


def truncate(message: str, limit: int = MAX_MESSAGE) -> str:
    return message if len(message) <= limit else message[:limit] + "... (truncated)"


def error_body(message: str, rule: str, extra: Mapping[str, str] | None = None) -> bytes:
    return orjson.dumps({"error": truncate(message), "rule": rule, **(extra or {})})


def request_id(scope: Scope | None) -> str:
    """The id the Guard gave this request ("-" outside the Guard, e.g. a bare test app)."""
    extensions = (scope or {}).get("extensions") or {}
    return str(extensions.get(REQUEST_ID, "-"))


def is_sandbox(path: str) -> bool:
    return path == SANDBOX_PREFIX or path.startswith(SANDBOX_PREFIX + "/")


def route_methods(
    documents: Iterable[tuple[dict[str, Any], str]],
) -> list[tuple[re.Pattern[str], str]]:
    """(path pattern, `Allow` value) for every path of the given (spec, base path) pairs.

    The router knows only the methods of the one operation it matched first, so a 405 on a
    path with two operations would name one of them; the specs know them all."""
    out = []
    for document, prefix in documents:
        for template, item in document.get("paths", {}).items():
            methods = {m.upper() for m in item if m.upper() in _VERBS}
            if "GET" in methods:
                methods.add("HEAD")  # Starlette answers HEAD wherever it answers GET
            pattern = re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(prefix + template))
            out.append((re.compile(pattern + "$"), ", ".join(m for m in _VERBS if m in methods)))
    return out


class ErrorMapper:
    """Maps rule ids to statuses (taken from the catalogues) and exceptions to responses."""

    def __init__(
        self,
        statuses: Mapping[str, int],
        routes: Sequence[tuple[re.Pattern[str], str]] = (),
    ) -> None:
        self.statuses = dict(statuses)
        self.routes = tuple(routes)

    def allowed(self, path: str) -> str | None:
        """The `Allow` value of a path of the specs, if it is one."""
        return next((allow for pattern, allow in self.routes if pattern.match(path)), None)

    def status(self, rule: str) -> int:
        return self.statuses[rule]

    def response(
        self,
        rule: str,
        message: str,
        extra: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> ConnexionResponse:
        return ConnexionResponse(
            status_code=self.statuses[rule],
            mimetype="application/json",
            body=error_body(message, rule, extra),
            headers=self.headers(rule, headers),
        )

    def headers(self, rule: str, headers: Mapping[str, str] | None = None) -> dict[str, str]:
        out = dict(headers or {})
        if self.statuses[rule] == 401:
            # RFC 9110 15.5.2: every 401 carries a challenge, whichever rule refused the caller.
            out.setdefault("WWW-Authenticate", "Bearer")
        return out

    def framework_rule(self, status: int, path: str) -> str:
        """The rule for an error a framework answered with a bare status."""
        candidates: Sequence[str] = _SANDBOX_RULES if is_sandbox(path) else ()
        for rule in (*candidates, *_FRAMEWORK_RULES):
            if self.statuses.get(rule) == status:
                return rule
        if 400 <= status < 500:
            return SBX_INVALID if is_sandbox(path) else rules.REQ_SCHEMA
        return rules.SRV_INTERNAL

    # connexion error handlers -------------------------------------------------------------
    def rule_violation(self, request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        assert isinstance(exc, RuleViolation)
        return self.response(exc.rule, exc.message, exc.extra)

    def store_unavailable(self, request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        assert isinstance(exc, StoreUnavailable)
        return self.unavailable(exc)

    def unavailable(self, exc: StoreUnavailable) -> ConnexionResponse:
        """503 for a write the database cannot take: busy, full or read-only, or gone."""
        if isinstance(exc, StoreBusy):
            return self.busy()
        if isinstance(exc, StoreGone):
            return self.response(
                rules.SRV_STORE_GONE,
                f"{exc}. Nothing was written; a restart starts from the file now at that path",
            )
        return self.response(
            rules.SRV_STORAGE,
            f"storage is full or read-only ({exc}): nothing was written. Send the same "
            "request again after the Retry-After delay, once space is freed",
            headers={"Retry-After": STORAGE_RETRY_AFTER_S},
        )

    def busy(self) -> ConnexionResponse:
        return self.response(
            rules.SRV_BUSY,
            "the sandbox database is busy: retry after the Retry-After delay",
            headers={"Retry-After": "1"},
        )

    def problem(self, request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        assert isinstance(exc, ProblemException)
        sandbox = is_sandbox(request.url.path)
        detail = str(exc.detail or exc.title or "")
        if isinstance(exc, (OAuthProblem, OAuthResponseProblem)) or exc.status == 401:
            if sandbox:
                return self.response(
                    SBX_ADMIN,
                    "this control-plane route needs "
                    "'Authorization: Bearer <admin token>' with the token "
                    "printed by `oeskit serve`",
                )
            return self.response(
                rules.AUTH_TOKEN,
                "send a valid access token as 'Authorization: Bearer <token>'" + _why(detail),
            )
        if isinstance(exc, OAuthScopeProblem):
            return self.response(rules.AUTH_SCOPE, detail)
        if isinstance(exc, UnsupportedMediaTypeProblem) or exc.status == 415:
            return self.response(
                rules.REQ_MEDIA_TYPE, "send the body as application/json" + _why(detail)
            )
        if isinstance(exc, (BadRequestProblem, ExtraParameterProblem)) or exc.status == 400:
            if sandbox:
                return self.response(SBX_INVALID, detail or "invalid request")
            return self.response(
                rules.REQ_SCHEMA, "the request does not match the contract: " + detail
            )
        return self.from_status(request, exc, exc.status, detail, exc.headers)

    def problem_from_http(self, request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        """Starlette's HTTPException (routing, form parsing): its 4xx stays a 4xx."""
        status = int(getattr(exc, "status_code", 500))
        detail = str(getattr(exc, "detail", "") or "")
        return self.from_status(request, exc, status, detail, getattr(exc, "headers", None))

    def from_status(
        self,
        request: ConnexionRequest,
        exc: Exception,
        status: int,
        detail: str,
        headers: Mapping[str, str] | None = None,
    ) -> ConnexionResponse:
        if status == 404:
            return self.not_found(request, exc)
        if status == 405:
            return self.method_not_allowed(request, exc)
        rule = self.framework_rule(status, request.url.path)
        if rule == rules.SRV_INTERNAL:
            return self.internal(request, exc)
        return self.response(rule, detail or "the request cannot be served as sent")

    def not_found(self, request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        return self.not_found_for(request.url.path)

    def not_found_for(self, path: str) -> ConnexionResponse:
        return self.response(
            rules.REQ_NOT_FOUND,
            f"no route matches {path}: see openapi.yaml for the routes this server "
            "serves (a path parameter cannot contain '/')",
        )

    def method_not_allowed(self, request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        allow = self.allowed(request.url.path) or _allow_header(exc)
        return self.method_response(request.method, allow)

    def method_response(self, method: str, allow: str | None) -> ConnexionResponse:
        """405 with the `Allow` header RFC 9110 15.5.6 asks for (when the methods are known)."""
        message = f"method {method} is not allowed on this route"
        if allow:
            message += f"; allowed methods are {allow}"
        return self.response(rules.REQ_METHOD, message, headers={"Allow": allow} if allow else None)

    def internal(self, request: ConnexionRequest | None, exc: Exception) -> ConnexionResponse:
        return self.internal_for(request.scope if request is not None else None, exc)

    def internal_for(self, scope: Scope | None, exc: BaseException | None) -> ConnexionResponse:
        """The 500: logged (with the traceback) under the request id the body names. A store
        that cannot take the write is not unexpected: its 503 (logged by the store)."""
        if isinstance(exc, StoreUnavailable):
            return self.unavailable(exc)
        rid = request_id(scope)
        path = (scope or {}).get("path", "")
        log.error(
            "request %s (%s) failed: %r",
            rid,
            path,
            exc,
            exc_info=(type(exc), exc, exc.__traceback__) if exc is not None else None,
        )
        return self.response(
            rules.SRV_INTERNAL,
            f"unexpected server error; it was logged as request {rid}. The request may be "
            "replayed unchanged: staging is idempotent",
            headers={"X-Request-Id": rid},
        )


def _allow_header(exc: Exception) -> str | None:
    headers = getattr(exc, "headers", None) or {}
    for key, value in dict(headers).items():
        if key.lower() == "allow":
            return str(value)
    return None


def _why(detail: str) -> str:
    return f" ({detail})" if detail else ""
