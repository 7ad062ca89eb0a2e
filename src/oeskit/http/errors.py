"""Every error response is `{"error": ..., "rule": ...}`; this module is the one place that
decides its status (from the rules catalogues) and turns connexion's problems into it."""

from __future__ import annotations

from collections.abc import Mapping

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

from oeskit.domain import rules
from oeskit.domain.sandbox_rules import SBX_ADMIN, SBX_INVALID
from oeskit.errors import RuleViolation

MAX_MESSAGE = 500  # never echo a whole 2 MB body back in an error message
SANDBOX_PREFIX = "/sandbox"


def truncate(message: str, limit: int = MAX_MESSAGE) -> str:
    return message if len(message) <= limit else message[:limit] + "... (truncated)"


def error_body(message: str, rule: str, extra: Mapping[str, str] | None = None) -> bytes:
    return orjson.dumps({"error": truncate(message), "rule": rule, **(extra or {})})


class ErrorMapper:
    """Maps rule ids to statuses (taken from the catalogues) and exceptions to responses."""

    def __init__(self, statuses: Mapping[str, int]) -> None:
        self.statuses = dict(statuses)

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
            headers=dict(headers or {}),
        )

    # connexion error handlers -------------------------------------------------------------
    def rule_violation(self, request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        assert isinstance(exc, RuleViolation)
        return self.response(exc.rule, exc.message, exc.extra)

    def store_busy(self, request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        return self.response(
            rules.SRV_BUSY,
            "the sandbox database is busy: retry after the Retry-After delay",
            headers={"Retry-After": "1"},
        )

    def problem(self, request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        assert isinstance(exc, ProblemException)
        sandbox = request.url.path.startswith(SANDBOX_PREFIX)
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
                headers={"WWW-Authenticate": "Bearer"},
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
        if exc.status == 404:
            return self.not_found(request, exc)
        if exc.status == 405:
            return self.method_not_allowed(request, exc)
        return self.response(rules.SRV_INTERNAL, "unexpected server error")

    def problem_from_http(self, request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        status = getattr(exc, "status_code", 500)
        if status == 404:
            return self.not_found(request, exc)
        if status == 405:
            return self.method_not_allowed(request, exc)
        return self.internal(request, exc)

    def not_found(self, request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        return self.response(
            rules.REQ_NOT_FOUND,
            f"no route {request.url.path!r}: see openapi.yaml for the routes this server serves",
        )

    def method_not_allowed(self, request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        return self.response(
            rules.REQ_METHOD, f"{request.method} is not allowed on {request.url.path!r}"
        )

    def internal(self, request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        return self.response(
            rules.SRV_INTERNAL,
            "unexpected server error; the request may be replayed unchanged, staging is idempotent",
        )


def _why(detail: str) -> str:
    return f" ({detail})" if detail else ""
